//! The sandbox provider, served by local-api itself: always on, its URLs at the address local-api
//! is bound to, its client registered by the [`Sandbox`] generated at start-up.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use super::api::{FIXED_ITEMS, MAX_ITEMS};
use super::{Sandbox, SandboxSettings, API_PATH, AUTHORIZE_PATH, REVOKE_PATH, TOKEN_PATH};
use integrations::config::Config;

/// The configuration read through `var`, with the sandbox provider on and pointed at `address`,
/// and the sandbox it points at. `SANDBOX_*` URLs in `var` win over these defaults; the client id
/// and secret are always the sandbox's own.
pub fn configure(address: SocketAddr, var: impl Fn(&str) -> Option<String>) -> (Config, Sandbox) {
    let port = address.port();
    // Browsers are sent to `localhost`, as with every provider; our own calls go to the bound address.
    let browser = format!("http://localhost:{port}");
    let server = format!("http://{}", SocketAddr::new(reachable(address.ip()), port));
    let defaults = [
        ("SANDBOX_AUTH_URL", format!("{browser}{AUTHORIZE_PATH}")),
        ("SANDBOX_REDIRECT_URI", callback(&browser)),
        ("SANDBOX_TOKEN_URL", format!("{server}{TOKEN_PATH}")),
        ("SANDBOX_REVOKE_URL", format!("{server}{REVOKE_PATH}")),
        ("SANDBOX_API_URL", format!("{server}{API_PATH}")),
    ];
    let mut config = Config::from_vars(|name| match name {
        "SANDBOX" => Some("1".into()),
        _ => var(name).or_else(|| {
            defaults
                .iter()
                .find(|(default, _)| *default == name)
                .map(|(_, value)| value.clone())
        }),
    });
    let provider = config
        .providers
        .iter_mut()
        .find(|provider| provider.name() == "sandbox")
        .expect("SANDBOX=1 lists the sandbox");
    let mut redirect_uris = vec![provider.redirect_uri.clone()];
    for uri in [callback(&browser), callback(&format!("http://127.0.0.1:{port}"))] {
        if !redirect_uris.contains(&uri) {
            redirect_uris.push(uri);
        }
    }
    let token_ttl = var("SANDBOX_TOKEN_TTL_SECS")
        .and_then(|seconds| seconds.trim().parse().ok())
        .unwrap_or(120);
    let items: usize = var("SANDBOX_ITEMS")
        .and_then(|items| items.trim().parse().ok())
        .unwrap_or(0);
    let sandbox = Sandbox::new(SandboxSettings {
        token_ttl: Duration::from_secs(token_ttl),
        redirect_uris,
        bulk_items: items.min(MAX_ITEMS).saturating_sub(FIXED_ITEMS),
    });
    provider.client_id = Some(sandbox.client_id().to_owned());
    provider.client_secret = Some(sandbox.client_secret().to_owned());
    (config, sandbox)
}

fn callback(base: &str) -> String {
    format!("{base}/integrations/sandbox/oauth2callback")
}

/// Bound to every interface, local-api is reached on loopback.
fn reachable(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    }
}
