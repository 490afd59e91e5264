//! `.env.example` against the code: its provider sections are generated from
//! `providers::PROVIDERS`, so a provider added there shows up here (and a stale section fails).
//! `UPDATE_ENV_EXAMPLE=1 cargo test -p integrations --test env_example` rewrites them.

use integrations::providers::{deployable, ProviderSpec};

const MARKER: &str = "# --- Providers: generated from providers::PROVIDERS \
    (UPDATE_ENV_EXAMPLE=1 cargo test -p integrations --test env_example) ---";

/// One provider's variables with their defaults, and what is not obvious from them.
fn section(spec: &ProviderSpec) -> String {
    let prefix = spec.env_prefix;
    let mut lines = vec![format!(
        "# {} (register the app: {})",
        spec.display_name, spec.registration
    )];
    if spec.secret_optional {
        lines.push(format!(
            "# {prefix}_CLIENT_SECRET is optional: without it, a public client with PKCE."
        ));
    }
    lines.push(format!("{prefix}_CLIENT_ID="));
    lines.push(format!("{prefix}_CLIENT_SECRET="));
    lines.push(format!(
        "{prefix}_REDIRECT_URI=http://localhost:8000/integrations/{}/oauth2callback",
        spec.name
    ));
    for (name, value) in spec.authorization_params {
        lines.push(format!(
            "# {name}={value} is added to the consent URL by the code, whatever {prefix}_AUTH_URL says."
        ));
    }
    lines.push(format!("{prefix}_AUTH_URL={}", spec.auth_url));
    lines.push(format!("{prefix}_TOKEN_URL={}", spec.token_url));
    if let Some(revoke_url) = spec.revoke_url {
        lines.push(format!("{prefix}_REVOKE_URL={revoke_url}"));
    }
    lines.push(format!("{prefix}_API_URL={}", spec.api_url));
    if let Some(scopes) = spec.scopes {
        lines.push(format!("{prefix}_SCOPES={scopes}"));
    }
    for (suffix, default) in spec.settings {
        lines.push(format!("{prefix}_{suffix}={default}"));
    }
    lines.join("\n")
}

#[test]
fn the_provider_sections_are_the_generated_ones() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../.env.example");
    let committed = std::fs::read_to_string(path).unwrap();
    let head = committed
        .split_once(MARKER)
        .map(|(head, _)| head)
        .unwrap_or_else(|| panic!(".env.example lacks the line {MARKER:?}"));
    let sections: Vec<String> = deployable().map(section).collect();
    let generated = format!("{head}{MARKER}\n\n{}\n", sections.join("\n\n"));
    if std::env::var_os("UPDATE_ENV_EXAMPLE").is_some() {
        std::fs::write(path, &generated).unwrap();
        return;
    }
    assert!(
        committed == generated,
        ".env.example's provider sections are not the generated ones: run \
         `UPDATE_ENV_EXAMPLE=1 cargo test -p integrations --test env_example` and commit it"
    );
}
