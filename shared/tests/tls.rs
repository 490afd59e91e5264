//! `rediss://` as Upstash serves it: TLS only, a password, a certificate the client must verify.

mod support;

use std::path::PathBuf;

use http::StatusCode;
use integrations::single_use::RedisBackend;
use integrations::Function;
use support::*;

/// A throwaway CA and a server certificate for `localhost` signed by it, as PEM files.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(unique("integrations-tls"));
        std::fs::create_dir_all(&dir).unwrap();
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "integrations test CA");
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let server_key = rcgen::KeyPair::generate().unwrap();
        let server = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        let server_cert = server.signed_by(&server_key, &ca_cert, &ca_key).unwrap();
        std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
        std::fs::write(dir.join("server.pem"), server_cert.pem()).unwrap();
        std::fs::write(dir.join("server.key"), server_key.serialize_pem()).unwrap();
        Pki { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn rediss_with_a_private_ca_and_a_password_works_end_to_end() {
    let pki = Pki::new();
    let server = RedisServer::start_tls(
        &pki.path("server.pem"),
        &pki.path("server.key"),
        "upstash-like-password",
    );
    let url = server.url();
    assert!(
        url.starts_with("rediss://:upstash-like-password@localhost:"),
        "{url}"
    );

    // The CA as a path, and inline, as REDIS_CA_CERT may hold either.
    let inline = std::fs::read_to_string(pki.path("ca.pem")).unwrap();
    for ca in [pki.path("ca.pem"), inline] {
        let backend = RedisBackend::connect(&url, Some(&ca))
            .await
            .expect("TLS connection with the private CA");
        let app = app_over(backend).await;
        let (status, body) = call(&app, Function::Authorize, authorize_request("notion")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, _) = call(
            &app,
            Function::Credentials,
            form(
                "notion",
                Function::Credentials,
                &[("user_id", "u"), ("org_id", "o")],
            ),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "a GETDEL over TLS answered");
    }
}

#[tokio::test]
async fn rediss_refuses_what_it_cannot_trust_or_open() {
    let pki = Pki::new();
    let server = RedisServer::start_tls(&pki.path("server.pem"), &pki.path("server.key"), "right-password");

    // Without the private CA the system roots do not know the certificate.
    let error = RedisBackend::connect(&server.url(), None)
        .await
        .err()
        .expect("untrusted certificate");
    let message = error.to_string();
    assert!(
        message.starts_with("Redis connection failed") && message.contains("UnknownIssuer"),
        "{message}"
    );

    let wrong_password = server.url().replace("right-password", "wrong-password");
    let error = RedisBackend::connect(&wrong_password, Some(&pki.path("ca.pem")))
        .await
        .err()
        .expect("wrong password");
    // The TLS handshake succeeded (the CA is right); the server refused the password itself.
    let message = error.to_string();
    assert!(
        message.starts_with("Redis connection failed") && message.contains("WRONGPASS"),
        "{message}"
    );

    let error = RedisBackend::connect(
        &server.url(),
        Some("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"),
    )
    .await
    .err()
    .expect("a broken CA");
    assert!(error.to_string().contains("REDIS_CA_CERT"), "{error}");
    let error = RedisBackend::connect(&server.url(), Some("/nonexistent/ca.pem"))
        .await
        .err()
        .expect("a missing CA file");
    assert!(error.to_string().contains("/nonexistent/ca.pem"), "{error}");
}
