//! A small W3C WebDriver client over reqwest, for Debian's chromedriver and headless Chromium
//! (a dozen commands do not need a WebDriver crate).

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::TempDir;

/// Where Debian puts Chromium and its driver (PATH first).
fn find_tool(names: &[&str], fallbacks: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .chain(fallbacks.iter().map(PathBuf::from))
        .find(|p| p.is_file())
}

fn browser_tools() -> (PathBuf, PathBuf) {
    // The real binary first: Debian's /usr/bin/chromium is a shell wrapper.
    let chromium = find_tool(&[], &["/usr/lib/chromium/chromium"])
        .or_else(|| find_tool(&["chromium", "chromium-browser"], &[]));
    let driver = find_tool(&["chromedriver"], &["/usr/lib/chromium/chromedriver"]);
    match (chromium, driver) {
        (Some(chromium), Some(driver)) => (chromium, driver),
        (chromium, driver) => panic!(
            "the web chat browser test needs headless Chromium and its WebDriver (found chromium: \
             {chromium:?}, chromedriver: {driver:?}): install them with \
             `apt-get install -y chromium chromium-driver` (.ci/run does this in CI)"
        ),
    }
}

/// A chromedriver (in its own process group, with the Chromium it starts) and one session.
pub struct Browser {
    driver: Child,
    /// Chromium's profile, removed after the browser is gone (fields drop after `Drop::drop`).
    _profile: TempDir,
    base: String,
    session: String,
    http: reqwest::Client,
}

/// A WebDriver element reference.
pub struct Element(String);

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
const WAIT: Duration = Duration::from_secs(20);

impl Browser {
    pub async fn start(profile: TempDir) -> Browser {
        let (chromium, chromedriver) = browser_tools();
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let mut command = Command::new(&chromedriver);
        command
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Chromium joins the driver's process group, so one kill ends both.
            .process_group(0);
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let driver = command.spawn().expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let started = Instant::now();
        loop {
            let ready = http.get(format!("{base}/status")).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            assert!(
                started.elapsed() < WAIT,
                "chromedriver did not start on port {port}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile_dir = profile.path().display().to_string();
        let mut browser = Browser {
            driver,
            _profile: profile,
            base,
            session: String::new(),
            http,
        };
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-extensions",
                    // A phone's width: the page must work there.
                    "--window-size=390,844",
                    format!("--user-data-dir={profile_dir}"),
                ],
            },
        }}});
        let created = browser.command("POST", "/session", capabilities).await;
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {created}"))
            .to_owned();
        browser
    }

    /// Sends a command; returns its `value` (panics with the driver's error).
    async fn command(&self, method: &str, path: &str, body: Value) -> Value {
        self.try_command(method, path, body)
            .await
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"))
    }

    async fn try_command(&self, method: &str, path: &str, body: Value) -> Result<Value, Value> {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self
                .http
                .post(url)
                .header("content-type", "application/json")
                .body(body.to_string()),
        };
        let response = request.send().await.expect("chromedriver answers");
        let ok = response.status().is_success();
        let mut answer: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        let value = answer["value"].take();
        if ok { Ok(value) } else { Err(value) }
    }

    async fn session_command(&self, method: &str, path: &str, body: Value) -> Value {
        let path = format!("/session/{}{path}", self.session);
        self.command(method, &path, body).await
    }

    pub async fn goto(&self, url: &str) {
        self.session_command("POST", "/url", json!({"url": url}))
            .await;
    }

    pub async fn title(&self) -> String {
        let title = self.session_command("GET", "/title", Value::Null).await;
        title.as_str().unwrap_or_default().to_owned()
    }

    pub async fn script(&self, script: &str, args: Value) -> Value {
        self.session_command(
            "POST",
            "/execute/sync",
            json!({"script": script, "args": args}),
        )
        .await
    }

    async fn find_by(&self, using: &str, value: &str) -> Option<Element> {
        let path = format!("/session/{}/element", self.session);
        let found = self
            .try_command("POST", &path, json!({"using": using, "value": value}))
            .await
            .ok()?;
        found[ELEMENT_KEY].as_str().map(|id| Element(id.to_owned()))
    }

    pub async fn find(&self, css: &str) -> Element {
        self.find_by("css selector", css)
            .await
            .unwrap_or_else(|| panic!("the page has no {css}"))
    }

    /// The button labelled `label` among the conversation's choices.
    pub async fn choice(&self, label: &str) -> Element {
        let xpath = format!("//div[@id='log']//button[normalize-space()='{label}']");
        match self.find_by("xpath", &xpath).await {
            Some(button) => button,
            None => panic!(
                "no `{label}` button; the page reads:\n{}",
                self.page_text().await
            ),
        }
    }

    pub async fn click_choice(&self, label: &str) {
        let button = self.choice(label).await;
        assert!(self.enabled(&button).await, "`{label}` can be clicked");
        self.click(&button).await;
    }

    pub async fn click(&self, element: &Element) {
        self.session_command("POST", &format!("/element/{}/click", element.0), json!({}))
            .await;
    }

    pub async fn text(&self, element: &Element) -> String {
        let text = self
            .session_command("GET", &format!("/element/{}/text", element.0), Value::Null)
            .await;
        text.as_str().unwrap_or_default().to_owned()
    }

    pub async fn enabled(&self, element: &Element) -> bool {
        let path = format!("/element/{}/enabled", element.0);
        self.session_command("GET", &path, Value::Null).await == json!(true)
    }

    pub async fn shown(&self, element: &Element) -> bool {
        let path = format!("/element/{}/displayed", element.0);
        self.session_command("GET", &path, Value::Null).await == json!(true)
    }

    /// Types into the message box (`\u{E007}` is Enter).
    pub async fn type_into_composer(&self, text: &str) {
        let input = self.find("#message").await;
        let path = format!("/element/{}/value", input.0);
        self.session_command("POST", &path, json!({"text": text}))
            .await;
    }

    /// `(who, text)` of every message bubble, in order.
    pub async fn transcript(&self) -> Vec<(String, String)> {
        let messages = self
            .script(
                "return Array.from(document.querySelectorAll('#log .msg'), m => \
                 [m.classList.contains('user') ? 'user' : 'bot', m.textContent]);",
                json!([]),
            )
            .await;
        serde_json::from_value(messages).unwrap()
    }

    async fn page_text(&self) -> String {
        let text = self
            .script("return document.body.innerText;", json!([]))
            .await;
        text.as_str().unwrap_or_default().to_owned()
    }

    pub async fn user_id(&self) -> String {
        let id = self
            .script(
                "return localStorage.getItem('turnstile-chat:default');",
                json!([]),
            )
            .await;
        id.as_str().expect("the page keeps a user id").to_owned()
    }

    pub async fn wait_for_message(&self, who: &str, text: &str) {
        let started = Instant::now();
        loop {
            let transcript = self.transcript().await;
            if transcript.iter().any(|(w, t)| w == who && t == text) {
                return;
            }
            assert!(
                started.elapsed() < WAIT,
                "the page did not show the {who} message {text:?} within {WAIT:?}; it shows \
                 {transcript:?} and reads:\n{}",
                self.page_text().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn wait_until_shown(&self, css: &str) {
        let element = self.find(css).await;
        let started = Instant::now();
        while !self.shown(&element).await {
            assert!(
                started.elapsed() < WAIT,
                "{css} was not shown within {WAIT:?}; the page reads:\n{}",
                self.page_text().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Closing the session lets Chromium exit cleanly; Drop cannot await, so a thread of its
        // own sends the DELETE.
        let url = format!("{}/session/{}", self.base, self.session);
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let client = reqwest::Client::new();
                client
                    .delete(url)
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await
                    .ok()
            })
        })
        .join();
        // Then the driver and whatever is left of the browser: the whole process group.
        unsafe {
            libc::kill(-(self.driver.id() as i32), libc::SIGKILL);
        }
        let _ = self.driver.wait();
    }
}
