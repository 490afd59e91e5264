//! `template.yaml` against the code: the deployed routes are `routes::ROUTES`, and each function's
//! environment is exactly what its handler reads (least privilege: no secret, key or store
//! setting reaches a function that does not use it).

use std::collections::{BTreeMap, BTreeSet};

use integrations::providers::ProviderSpec;
use integrations::routes::{Function, ROUTES};
use serde_yaml::{Mapping, Value};

fn template() -> Value {
    let path = format!("{}/../template.yaml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
    serde_yaml::from_str(&text).unwrap_or_else(|error| panic!("{path}: {error}"))
}

fn mapping<'a>(value: &'a Value, what: &str) -> &'a Mapping {
    value
        .as_mapping()
        .unwrap_or_else(|| panic!("template.yaml: {what} should be a mapping, found {value:?}"))
}

fn string<'a>(value: &'a Value, what: &str) -> &'a str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("template.yaml: {what} should be a string, found {value:?}"))
}

/// The logical name in `!Ref Name`; `None` for anything else.
fn reference(value: &Value) -> Option<&str> {
    match value {
        Value::Tagged(tagged) if tagged.tag == "Ref" => tagged.value.as_str(),
        _ => None,
    }
}

/// `AWS::Serverless::Function` resources that build one of our binaries: (logical id, binary,
/// the function's `Properties`).
fn functions(template: &Value) -> Vec<(String, String, &Value)> {
    let mut found = Vec::new();
    for (id, resource) in mapping(&template["Resources"], "Resources") {
        let id = string(id, "a resource's logical id");
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let Some(binary) = resource["Metadata"]["BuildProperties"]["Binary"].as_str() else {
            continue;
        };
        found.push((id.to_owned(), binary.to_owned(), &resource["Properties"]));
    }
    found
}

/// The names of an `Environment.Variables` mapping; none when there is no `Environment`.
fn variable_names(holder: &Value, what: &str) -> BTreeSet<String> {
    match holder.get("Environment") {
        None => BTreeSet::new(),
        Some(environment) => mapping(&environment["Variables"], what)
            .keys()
            .map(|name| string(name, what).to_owned())
            .collect(),
    }
}

#[test]
fn every_route_is_deployed_and_every_deployed_route_is_in_the_route_table() {
    let template = template();
    let mut deployed = BTreeSet::new();
    let mut binaries = BTreeSet::new();
    for (id, binary, properties) in functions(&template) {
        assert!(
            binaries.insert(binary.clone()),
            "two functions build the binary {binary}"
        );
        let Some(events) = properties.get("Events") else {
            continue;
        };
        for (name, event) in mapping(events, "Events") {
            if event["Type"].as_str() != Some("HttpApi") {
                continue;
            }
            let name = string(name, "an event name");
            let event = &event["Properties"];
            let method = string(&event["Method"], "an HttpApi event's Method").to_ascii_uppercase();
            let path = string(&event["Path"], "an HttpApi event's Path").to_owned();
            // The event belongs to this template's API, not to SAM's implicit one.
            assert_eq!(
                reference(&event["ApiId"]),
                Some("HttpApi"),
                "{id}.Events.{name}: ApiId should be !Ref HttpApi, found {:?}",
                event["ApiId"]
            );
            assert!(
                deployed.insert((method.clone(), path.clone(), binary.clone())),
                "{method} {path} is deployed twice"
            );
        }
    }
    let routed: BTreeSet<(String, String, String)> = ROUTES
        .iter()
        .map(|route| {
            (
                route.method.to_owned(),
                route.path.to_owned(),
                route.function.name().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        deployed, routed,
        "template.yaml's HttpApi events (left) and routes::ROUTES (right) differ"
    );
    // Every routed function, the scheduled refresher and the workers (they have no route).
    let all: BTreeSet<String> = Function::ALL
        .iter()
        .map(|f| f.name().to_owned())
        .chain(["refresher", "sync", "webhooks"].map(str::to_owned))
        .collect();
    assert_eq!(
        binaries, all,
        "template.yaml builds other binaries than Function::ALL"
    );
}

/// What each function's handler reads, and nothing else: its own settings, and of every
/// deployable provider what [`Function::needs`] (the refresher: `refresher::NEEDS`) names.
fn expected_environment() -> BTreeMap<&'static str, BTreeSet<String>> {
    const STORE: [&str; 4] = [
        "REDIS_URL",
        "REDIS_CA_CERT",
        "TOKEN_ENCRYPTION_KEY",
        "TOKEN_ENCRYPTION_KEYS_OLD",
    ];
    const ACCESS: [&str; 2] = ["API_KEYS", "ALLOWED_ORIGINS"];
    const HTTP: [&str; 2] = ["HTTP_CONNECT_TIMEOUT_SECS", "HTTP_TIMEOUT_SECS"];
    const KEPT: [&str; 3] = [
        "CONNECTIONS_TABLE",
        "TOKEN_ENCRYPTION_KEY",
        "TOKEN_ENCRYPTION_KEYS_OLD",
    ];
    let own: BTreeMap<&str, Vec<&str>> = BTreeMap::from([
        ("authorize", [&STORE[..], &ACCESS].concat()),
        (
            "oauth2callback",
            [&STORE[..], &HTTP, &["CONNECTIONS_TABLE"]].concat(),
        ),
        ("credentials", [&STORE[..], &ACCESS].concat()),
        ("load", [&ACCESS[..], &HTTP, &KEPT].concat()),
        ("connection", [&KEPT[..], &ACCESS].concat()),
        ("disconnect", [&STORE[..], &KEPT, &ACCESS, &HTTP].concat()),
        ("token", [&KEPT[..], &ACCESS, &HTTP].concat()),
        ("connections", [&KEPT[..], &ACCESS].concat()),
        ("refresher", [&KEPT[..], &HTTP].concat()),
        (
            "startsync",
            [
                &KEPT[..],
                &ACCESS,
                &["ITEMS_TABLE", "SYNC_QUEUE_URL", "SYNC_FULL_EVERY"],
            ]
            .concat(),
        ),
        ("syncstatus", [&KEPT[..], &ACCESS, &["ITEMS_TABLE"]].concat()),
        ("connectsessions", [&STORE[..], &ACCESS].concat()),
        ("items", [&KEPT[..], &ACCESS, &["ITEMS_TABLE"]].concat()),
        (
            "sync",
            [
                &KEPT[..],
                &HTTP,
                &[
                    "ITEMS_TABLE",
                    "SYNC_QUEUE_URL",
                    "WEBHOOK_QUEUE_URL",
                    "SYNC_INTERVAL_SECS",
                    "SYNC_FULL_EVERY",
                    "ITEM_TOMBSTONE_DAYS",
                ],
            ]
            .concat(),
        ),
        (
            "webhooks",
            vec![
                "WEBHOOK_URL",
                "WEBHOOK_SECRETS",
                "WEBHOOK_QUEUE_URL",
                "WEBHOOK_DLQ_URL",
            ],
        ),
    ]);
    // The providers' AUTH_URL, TOKEN_URL and API_URL are not deployed: the code's defaults are
    // the real endpoints, and those variables exist for tests and fakes.
    let needs = worker_needs;
    own.into_iter()
        .map(|(function, variables)| {
            let providers = deployable().flat_map(|spec| needs(function).variables(spec));
            let all = variables.iter().map(|name| name.to_string()).chain(providers);
            (function, all.collect())
        })
        .collect()
}

/// Each function's environment as Lambda will see it: `Globals.Function` merged with its own.
fn deployed_environment(template: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let globals = variable_names(&template["Globals"]["Function"], "Globals.Function.Environment");
    functions(template)
        .into_iter()
        .map(|(id, binary, properties)| {
            let own = variable_names(properties, &format!("{id}.Environment"));
            (binary, globals.union(&own).cloned().collect())
        })
        .collect()
}

#[test]
fn each_function_gets_exactly_the_variables_it_reads() {
    let template = template();
    let deployed = deployed_environment(&template);
    let expected = expected_environment();
    let names: BTreeSet<&str> = deployed.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        expected.keys().copied().collect(),
        "the test's table and template.yaml name different functions"
    );
    for (function, variables) in &deployed {
        let want = &expected[function.as_str()];
        let extra: Vec<_> = variables.difference(want).collect();
        let missing: Vec<_> = want.difference(variables).collect();
        assert!(
            extra.is_empty() && missing.is_empty(),
            "{function}: template.yaml gives it {extra:?} it should not have and lacks {missing:?}"
        );
    }
}

#[test]
fn globals_hold_no_environment_and_set_json_logs_at_log_level() {
    let template = template();
    let globals = &template["Globals"]["Function"];
    assert!(
        globals.get("Environment").is_none(),
        "Globals.Function.Environment would hand its variables to every function"
    );
    let logging = &globals["LoggingConfig"];
    assert_eq!(logging["LogFormat"].as_str(), Some("JSON"), "{logging:?}");
    assert_eq!(logging["SystemLogLevel"].as_str(), Some("WARN"), "{logging:?}");
    assert_eq!(
        reference(&logging["ApplicationLogLevel"]),
        Some("LogLevel"),
        "{logging:?}"
    );
}

#[test]
fn only_the_browser_facing_callback_goes_without_api_keys_and_load_needs_no_redis() {
    let deployed = deployed_environment(&template());
    for (binary, variables) in &deployed {
        let Some(function) = Function::from_name(binary) else {
            assert!(
                ["refresher", "sync", "webhooks"].contains(&binary.as_str()),
                "an unknown function"
            );
            assert!(!variables.contains("API_KEYS"), "{binary} has no caller to check");
            continue;
        };
        assert_eq!(
            variables.contains("API_KEYS"),
            !function.is_browser_facing(),
            "{binary}: API_KEYS goes to every function except the browser-facing callback"
        );
        if function == Function::Load {
            // A load by credentials must never need Redis (it starts without it).
            let redis: Vec<_> = variables.iter().filter(|name| name.contains("REDIS")).collect();
            assert!(redis.is_empty(), "load holds {redis:?}");
        }
        if function == Function::Credentials {
            let provider_settings: Vec<_> = variables
                .iter()
                .filter(|name| {
                    integrations::providers::PROVIDERS
                        .iter()
                        .any(|spec| name.starts_with(&format!("{}_", spec.env_prefix)))
                })
                .collect();
            assert!(
                provider_settings.is_empty(),
                "credentials holds {provider_settings:?}"
            );
        }
    }
}

/// What a function reads of each provider: a routed one's `Function::needs`, the workers' own.
fn worker_needs(function: &str) -> integrations::providers::Needs {
    match (Function::from_name(function), function) {
        (Some(function), _) => function.needs(),
        (None, "sync") => integrations::sync::NEEDS,
        (None, "webhooks") => integrations::providers::Needs::NOTHING,
        _ => integrations::refresher::NEEDS,
    }
}

/// The providers a deployment configures.
fn deployable() -> impl Iterator<Item = &'static ProviderSpec> {
    integrations::providers::deployable()
}

const GENERATED_BEGIN: &str = "          # Provider variables, generated from Function::needs \
    (UPDATE_TEMPLATE=1 cargo test -p integrations --test template):";
const GENERATED_END: &str = "          # End of the generated provider variables.";

/// `NOTION` or `CLIENT_ID` as CloudFormation names it: `Notion`, `ClientId`.
fn camel(name: &str) -> String {
    name.split('_')
        .map(|word| word[..1].to_owned() + &word[1..].to_lowercase())
        .collect()
}

/// The variables a function reads of every deployable provider, as `template.yaml` passes them:
/// each from its provider's parameter, the redirect URI derived from `PublicBaseUrl` unless set.
fn generated_variables(function: &str) -> Vec<String> {
    let needs = worker_needs(function);
    let mut lines = Vec::new();
    for spec in deployable() {
        let prefix = spec.env_prefix;
        for variable in needs.variables(spec) {
            let suffix = &variable[prefix.len() + 1..];
            let parameter = camel(prefix) + &camel(suffix);
            if suffix == "REDIRECT_URI" {
                lines.push(format!("          {variable}: !If"));
                lines.push(format!("            - Has{parameter}"));
                lines.push(format!("            - !Ref {parameter}"));
                lines.push(format!(
                    "            - !If [HasPublicBaseUrl, !Sub \"${{PublicBaseUrl}}/integrations/{}/oauth2callback\", \"\"]",
                    spec.name
                ));
            } else {
                lines.push(format!("          {variable}: !Ref {parameter}"));
            }
        }
    }
    lines
}

/// Adding a provider adds its parameters by hand; its variables in each function are generated
/// here, so none is forgotten and none leaks to a function that does not read it.
#[test]
fn the_provider_variables_are_the_generated_ones() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    let committed = std::fs::read_to_string(path).unwrap();
    let mut generated = Vec::new();
    let mut binary = None;
    let mut blocks = BTreeSet::new();
    let mut lines = committed.lines();
    while let Some(line) = lines.next() {
        generated.push(line.to_owned());
        if let Some(name) = line.trim().strip_prefix("Binary: ") {
            binary = Some(name.to_owned());
        }
        if line == GENERATED_BEGIN {
            let function = binary.clone().expect("a generated block inside a function");
            generated.extend(generated_variables(&function));
            assert!(
                lines.by_ref().any(|line| line == GENERATED_END),
                "{function}: the generated block has no end line"
            );
            generated.push(GENERATED_END.to_owned());
            blocks.insert(function);
        }
    }
    let reading: BTreeSet<String> = expected_environment()
        .into_keys()
        .filter(|function| !generated_variables(function).is_empty())
        .map(str::to_owned)
        .collect();
    assert_eq!(
        blocks, reading,
        "each function that reads provider variables has one generated block in template.yaml"
    );
    // What the generated lines refer to is the hand-written part: each provider's parameters and
    // its redirect URI's condition.
    let template = template();
    let (parameters, conditions) = (&template["Parameters"], &template["Conditions"]);
    let lines: Vec<String> = blocks
        .iter()
        .flat_map(|function| generated_variables(function))
        .collect();
    for line in lines.iter().map(|line| line.trim()) {
        if let Some((_, parameter)) = line.split_once("!Ref ") {
            assert!(
                parameters.get(parameter).is_some(),
                "template.yaml lacks the parameter {parameter} a function reads"
            );
        }
        if let Some(condition) = line.strip_prefix("- Has") {
            assert!(
                conditions.get(format!("Has{condition}")).is_some(),
                "template.yaml lacks the condition Has{condition}"
            );
        }
    }
    let generated = generated.join("\n") + "\n";
    if std::env::var_os("UPDATE_TEMPLATE").is_some() {
        std::fs::write(path, &generated).unwrap();
        return;
    }
    assert!(
        committed == generated,
        "template.yaml's provider variables are not the generated ones: run \
         `UPDATE_TEMPLATE=1 cargo test -p integrations --test template` and commit it"
    );
}
