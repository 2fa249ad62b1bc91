//! One `run_turn` of the Pizza Palace agent: a button press, a typed sentence through the NLU,
//! and a launch. Traces go to a `Vec`, effects are a fixed clock (no HTTP in these turns).

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use serde_json::json;
use turnstile_engine::{
    Effects, HttpError, HttpRequest, HttpResponse, Request, SessionState, TurnOptions,
    load_agent_str, run_turn,
};

struct FixedEffects;

impl Effects for FixedEffects {
    fn now_ms(&self) -> u64 {
        1_700_000_000_000
    }
    fn random_below(&self, _n: usize) -> usize {
        0
    }
    async fn http(&self, _request: HttpRequest) -> Result<HttpResponse, HttpError> {
        Err(HttpError::Other("no HTTP in benchmarks".into()))
    }
}

/// Drives a future that never waits (no HTTP here) to completion.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

fn bench_pizza_turns(c: &mut Criterion) {
    let source = include_str!("../examples/agents/pizza.yaml");
    let agent = load_agent_str("pizza.yaml", source).expect("pizza loads");
    let options = TurnOptions {
        user_id: "bench-user".into(),
        ..TurnOptions::default()
    };
    let turn = |state: &mut SessionState, request: Request| {
        let mut traces = Vec::with_capacity(8);
        block_on(run_turn(
            &agent,
            state,
            request,
            &FixedEffects,
            &mut traces,
            &options,
        ));
        traces
    };
    // The state right after launch: waiting on the menu.
    let mut at_menu = SessionState::default();
    turn(&mut at_menu, Request::Launch);
    let button = Request::from_json(&json!({"type": "intent", "payload": {
        "intent": {"name": "order_pizza"}, "query": "Order a pizza", "entities": []}}))
    .unwrap();
    let typed = Request::Text("I want a large pizza".into());

    let mut group = c.benchmark_group("run_turn/pizza");
    group.bench_function("button", |b| {
        b.iter_batched_ref(
            || at_menu.clone(),
            |state| black_box(turn(state, button.clone())),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("typed_text_nlu", |b| {
        b.iter_batched_ref(
            || at_menu.clone(),
            |state| black_box(turn(state, typed.clone())),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("launch", |b| {
        b.iter_batched_ref(
            || at_menu.clone(),
            |state| black_box(turn(state, Request::Launch)),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench_pizza_turns);
criterion_main!(benches);
