//! `turnstile chat` driven through a pseudo-terminal, as a person would use it.

mod support;

use std::process::Command;

use rexpect::session::spawn_command;

const TIMEOUT_MS: u64 = 20_000;

fn chat(target: &str) -> rexpect::session::PtySession {
    chat_with(&[target])
}

fn chat_with(args: &[&str]) -> rexpect::session::PtySession {
    let mut command = Command::new(env!("CARGO_BIN_EXE_turnstile"));
    command.arg("chat").args(args).env("TURNSTILE_LOG", "error");
    spawn_command(command, Some(TIMEOUT_MS)).expect("chat starts in a pty")
}

fn complete_an_order(mut p: rexpect::session::PtySession) {
    p.exp_string("What's your name?").unwrap();
    p.send_line("Ada").unwrap();
    p.exp_string("Welcome to Pizza Palace!").unwrap();
    p.exp_string("1. Order a pizza").unwrap();
    p.exp_string("2. Opening hours").unwrap();
    p.exp_string("> ").unwrap();
    // A number presses that button.
    p.send_line("2").unwrap();
    p.exp_string("We are open every day from 11am to 11pm.")
        .unwrap();
    p.exp_string("> ").unwrap();
    p.send_line("1").unwrap();
    p.exp_string("What size would you like?").unwrap();
    p.exp_string("3. Large").unwrap();
    p.exp_string("> ").unwrap();
    // Free text goes through the NLU.
    p.send_line("a big one").unwrap();
    p.exp_string("Great, a large pizza. What is your name?")
        .unwrap();
    p.exp_string("> ").unwrap();
    p.send_line("Ada").unwrap();
    p.exp_string("Thanks Ada, your large pizza is on its way!")
        .unwrap();
    p.exp_string("(the conversation has ended)").unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn chat_completes_an_order_in_process() {
    let agent = support::repo("examples/agents/pizza.yaml");
    complete_an_order(chat(agent.to_str().unwrap()));
}

#[test]
fn chat_completes_an_order_against_a_server() {
    let data = support::TempDir::new("chat");
    let server = support::Server::pizza(data.path());
    complete_an_order(chat(&server.url("")));
}

#[test]
fn chat_completes_an_order_over_grpc() {
    let data = support::TempDir::new("chat-grpc");
    let server = support::Server::pizza(data.path());
    complete_an_order(chat_with(&["--grpc", &server.url("")]));
}
