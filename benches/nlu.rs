//! NLU classification speed on a large generated agent.
//!
//! 1,000 intents of 3–5 utterances each (3–7 words from a fixed word list, about a third with
//! a slot of a custom entity type) are generated with a fixed-seed LCG, so every run measures
//! the same model. The target is a median of at most 50 µs per classification.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use turnstile_engine::nlu::{EntityDef, EntityValueDef, IntentDef, NluConfig, NluModel, SlotDef};

const INTENTS: usize = 1_000;
const TARGET_INTENT: usize = 737;

/// Words of the generated utterances, separated by spaces. None of them is an entity value, a
/// function word or a word of the "none" query.
const WORDS: &str = "account address alarm answer apple appointment balance bank battery bill \
     birthday book booking borrow bottle breakfast budget bus buy calendar call camera cancel card \
     career cart change charge check cinema class clean close coffee complaint confirm \
     contact contract cook copy coupon course credit customer data deadline delay deliver \
     delivery deposit dinner discount doctor document download driver email energy event \
     exchange expense fee file find fix flight forecast form fridge fuel game garden gift \
     grocery guest gym heating history holiday hotel house insurance invoice item job key \
     kitchen language laptop late lesson library light limit loan lock login lunch manager \
     map meal meeting member menu message meter movie music news note offer office package \
     parcel parking password payment pension phone photo plan playlist plumber point policy \
     price print profile receipt recipe refund remind rent repair report reserve return \
     review room route salary schedule seat send service share ship shop show signal song \
     store subscribe support table tax taxi team ticket timer";

/// Custom entity types: (name, values); every value gets one synonym.
const ENTITIES: [(&str, [&str; 4]); 6] = [
    ("colour", ["red", "green", "blue", "yellow"]),
    ("city", ["berlin", "madrid", "oslo", "lisbon"]),
    ("day", ["monday", "tuesday", "friday", "sunday"]),
    ("level", ["basic", "premium", "gold", "platinum"]),
    ("animal", ["cat", "dog", "horse", "rabbit"]),
    ("fruit", ["mango", "cherry", "banana", "peach"]),
];

/// A 64-bit linear congruential generator (Knuth's MMIX constants): deterministic and enough
/// to spread words around.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

fn entities() -> Vec<EntityDef> {
    ENTITIES
        .iter()
        .map(|(name, values)| EntityDef {
            name: (*name).to_owned(),
            values: values
                .iter()
                .map(|value| EntityValueDef {
                    value: (*value).to_owned(),
                    synonyms: vec![format!("{value}ish")],
                })
                .collect(),
        })
        .collect()
}

fn intents() -> Vec<IntentDef> {
    let words: Vec<&str> = WORDS.split_whitespace().collect();
    // Seed chosen so the target intent has a slot: the exact case then also fills it.
    let mut rng = Lcg(0x7572_6e73_7469_6c66);
    (0..INTENTS)
        .map(|i| {
            let slot_type = (rng.below(3) == 0).then(|| ENTITIES[rng.below(ENTITIES.len())].0);
            let utterances = (0..3 + rng.below(3))
                .map(|u| {
                    let mut picked: Vec<&str> = (0..3 + rng.below(5))
                        .map(|_| words[rng.below(words.len())])
                        .collect();
                    // Slotted intents use the slot in all but their first utterance.
                    if slot_type.is_some() && u > 0 {
                        picked.insert(rng.below(picked.len() + 1), "{item}");
                    }
                    picked.join(" ")
                })
                .collect();
            IntentDef {
                name: format!("intent_{i:04}"),
                utterances,
                slots: slot_type
                    .map(|ty| SlotDef {
                        name: "item".to_owned(),
                        entity_type: ty.to_owned(),
                    })
                    .into_iter()
                    .collect(),
            }
        })
        .collect()
}

/// The second utterance of the target intent (the first with the slot, for a slotted intent),
/// its slot filled by a synonym.
fn exact_query(intents: &[IntentDef]) -> String {
    let intent = &intents[TARGET_INTENT];
    let utterance = &intent.utterances[1];
    let value = intent
        .slots
        .first()
        .and_then(|slot| ENTITIES.iter().find(|(name, _)| *name == slot.entity_type))
        .map_or("", |(_, values)| values[1]);
    utterance.replace("{item}", &format!("{value}ish"))
}

/// The exact query with its first word replaced and a polite word added.
fn near_query(exact: &str) -> String {
    let mut words: Vec<&str> = exact.split(' ').collect();
    words[0] = if words[0] == "account" {
        "address"
    } else {
        "account"
    };
    words.push("please");
    words.join(" ")
}

const NONE_QUERY: &str = "what will the weather be like in Paris tomorrow afternoon";

/// Letters of the long word of [`long_token_query`]: far longer than any real word, but the
/// whole text stays under the server's default text limit (4,096 characters).
const LONG_TOKEN_CHARS: usize = 4_000;

/// A sentence with one very long unknown word, the shape of the "one long word pins a core"
/// abuse: every other word is known, so the long word is the only one spelling correction
/// looks at.
fn long_token_query(exact: &str) -> String {
    format!("{exact} {}", "a".repeat(LONG_TOKEN_CHARS))
}

fn bench_nlu(c: &mut Criterion) {
    let intents = intents();
    let entities = entities();
    let config = NluConfig::default();
    let model = NluModel::build(&intents, &entities, &config).expect("generated model builds");

    let exact = exact_query(&intents);
    let near = near_query(&exact);
    let target = format!("intent_{TARGET_INTENT:04}");
    // Check the queries exercise the intended paths before timing them.
    let result = model.classify(&exact);
    assert_eq!(
        (result.intent.as_deref(), result.confidence),
        (Some(&*target), 1.0)
    );
    let result = model.classify(&near);
    assert_eq!(
        result.intent.as_deref(),
        Some(&*target),
        "{near}: {result:?}"
    );
    assert!(result.confidence < 1.0);
    assert_eq!(model.classify(NONE_QUERY).intent, None);

    let mut group = c.benchmark_group("nlu/classify_1000_intents");
    group.bench_function("exact", |b| b.iter(|| model.classify(black_box(&exact))));
    group.bench_function("near", |b| b.iter(|| model.classify(black_box(&near))));
    group.bench_function("none", |b| b.iter(|| model.classify(black_box(NONE_QUERY))));
    let long = long_token_query(&exact);
    group.bench_function("long_token_4000", |b| {
        b.iter(|| model.classify(black_box(&long)))
    });
    group.finish();

    let mut group = c.benchmark_group("nlu");
    group.sample_size(10);
    group.bench_function("build_1000_intents", |b| {
        b.iter(|| NluModel::build(black_box(&intents), &entities, &config))
    });
    group.finish();
}

criterion_group!(benches, bench_nlu);
criterion_main!(benches);
