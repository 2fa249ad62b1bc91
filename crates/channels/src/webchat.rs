//! The web chat page: one self-contained HTML file (no build step, no CDN).
