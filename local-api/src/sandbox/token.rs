//! The token endpoint (RFC 6749 §3.2, §4.1.3, §6) and token revocation (RFC 7009).

use std::time::{Duration, Instant};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use bytes::Bytes;
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{HeaderValue, Request, Response, StatusCode};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::authorize::requested_scope;
use super::{
    insert_bounded, invalid_request, is_form, json_response, key, new_secret, oauth_error, response,
};
use super::{Params, Sandbox, State, Token};

/// Lifetime of a refresh token; a sandbox session rarely lasts a day.
const REFRESH_TTL: Duration = Duration::from_secs(24 * 60 * 60);

impl Sandbox {
    pub(super) fn token(&self, request: &Request<Bytes>) -> Response<Bytes> {
        let params = match self.client_request(request) {
            Ok(params) => params,
            Err(refusal) => return *refusal,
        };
        match params.get("grant_type") {
            Some("authorization_code") => self.redeem_code(&params),
            Some("refresh_token") => self.refresh(&params),
            Some(_) => oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "grant_type must be authorization_code or refresh_token",
            ),
            None => invalid_request("grant_type is required"),
        }
    }

    /// RFC 7009: answers 200 whether or not the token was known, so that nothing is learnt from it.
    pub(super) fn revoke(&self, request: &Request<Bytes>) -> Response<Bytes> {
        let params = match self.client_request(request) {
            Ok(params) => params,
            Err(refusal) => return *refusal,
        };
        let Some(token) = params.get("token") else {
            return invalid_request("token is required");
        };
        let key = key(token);
        let mut state = self.state();
        state.access_tokens.remove(&key);
        if let Some(refresh) = state.refresh_tokens.remove(&key) {
            state.revoke_grant(refresh.grant);
        }
        response(StatusCode::OK, "", Bytes::new())
    }

    /// The form of a request from the authenticated client, by `client_secret_basic` or
    /// `client_secret_post` (RFC 6749 §2.3.1), never both at once.
    fn client_request(&self, request: &Request<Bytes>) -> Result<Params, Box<Response<Bytes>>> {
        if !is_form(request) {
            return Err(Box::new(invalid_request(
                "The body must be application/x-www-form-urlencoded",
            )));
        }
        let params = Params::parse(request.body());
        if let Some(name) = params.repeated.first() {
            return Err(Box::new(invalid_request(&format!(
                "{name} is given more than once"
            ))));
        }
        let header = request.headers().get(AUTHORIZATION);
        let (id, secret) = match (header, params.get("client_secret")) {
            (Some(_), Some(_)) => {
                return Err(Box::new(invalid_request(
                    "Use one client authentication method, not two",
                )))
            }
            (Some(header), None) => basic_credentials(header).ok_or_else(invalid_client)?,
            (None, Some(secret)) => (
                params.get("client_id").ok_or_else(invalid_client)?.to_owned(),
                secret.to_owned(),
            ),
            (None, None) => return Err(Box::new(invalid_client())),
        };
        let same_client = params.get("client_id").is_none_or(|body_id| body_id == id);
        let secret_matches: bool = secret.as_bytes().ct_eq(self.client_secret.as_bytes()).into();
        if !(same_client && id == self.client_id && secret_matches) {
            return Err(Box::new(invalid_client()));
        }
        Ok(params)
    }

    fn redeem_code(&self, params: &Params) -> Response<Bytes> {
        let (Some(code), Some(redirect_uri), Some(verifier)) = (
            params.get("code"),
            params.get("redirect_uri"),
            params.get("code_verifier"),
        ) else {
            return invalid_request("code, redirect_uri and code_verifier are required");
        };
        if !(43..=128).contains(&verifier.len())
            || !verifier
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        {
            return invalid_request("code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~");
        }
        let now = Instant::now();
        let mut state = self.state();
        let grant = state.next_grant();
        let Some(entry) = state
            .codes
            .get_mut(&key(code))
            .filter(|entry| entry.expires_at > now)
        else {
            return invalid_grant("The authorization code is unknown or expired");
        };
        // RFC 6749 §4.1.2: a code is good once; a replay withdraws what the first use obtained.
        // A failed redemption spends it too, so that a stolen code cannot be tried repeatedly.
        if let Some(first) = entry.spent {
            state.revoke_grant(first);
            return invalid_grant("The authorization code was already used; its tokens are revoked");
        }
        entry.spent = Some(grant);
        if entry.client_id != self.client_id || entry.redirect_uri != redirect_uri {
            return invalid_grant("The code was issued to another client or redirect_uri");
        }
        let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier));
        if !bool::from(computed.as_bytes().ct_eq(entry.challenge.as_bytes())) {
            return invalid_grant("The code_verifier does not match the code_challenge");
        }
        let scope = entry.scope.clone();
        self.issue(&mut state, grant, scope)
    }

    /// Rotation: a refresh token is good once, and each use brings a new one.
    fn refresh(&self, params: &Params) -> Response<Bytes> {
        let Some(refresh_token) = params.get("refresh_token") else {
            return invalid_request("refresh_token is required");
        };
        let key = key(refresh_token);
        let mut state = self.state();
        let Some(granted) = state
            .refresh_tokens
            .get(&key)
            .filter(|token| token.expires_at > Instant::now())
        else {
            return invalid_grant("The refresh token is unknown, expired, revoked or already used");
        };
        // RFC 6749 §6: a narrower scope may be asked for, never a wider one.
        let scope = match params.get("scope").map(|scope| requested_scope(Some(scope))) {
            None => granted.scope.clone(),
            Some(Some(scope)) if scope.split(' ').all(|s| granted.scope.split(' ').any(|g| g == s)) => scope,
            Some(_) => {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    "scope must be within the granted scope",
                )
            }
        };
        let grant = granted.grant;
        state.refresh_tokens.remove(&key);
        self.issue(&mut state, grant, scope)
    }

    fn issue(&self, state: &mut State, grant: u64, scope: String) -> Response<Bytes> {
        let now = Instant::now();
        let (access_token, access_key) = new_secret();
        let (refresh_token, refresh_key) = new_secret();
        let token = |expires_at| Token {
            grant,
            scope: scope.clone(),
            expires_at,
        };
        insert_bounded(
            &mut state.access_tokens,
            access_key,
            token(now + self.settings.token_ttl),
        );
        insert_bounded(&mut state.refresh_tokens, refresh_key, token(now + REFRESH_TTL));
        json_response(
            StatusCode::OK,
            &json!({
                "access_token": access_token,
                "token_type": "bearer",
                "expires_in": self.settings.token_ttl.as_secs(),
                "refresh_token": refresh_token,
                "scope": scope,
                "account_id": "sandbox-account",
                "account_name": "Sandbox workspace",
            }),
        )
    }
}

/// `Basic base64(id:secret)`, each part form-urlencoded first (RFC 6749 §2.3.1).
fn basic_credentials(header: &HeaderValue) -> Option<(String, String)> {
    let (scheme, encoded) = header.to_str().ok()?.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |part: &str| {
        let spaced = part.replace('+', " ");
        percent_encoding::percent_decode_str(&spaced)
            .decode_utf8()
            .ok()
            .map(|text| text.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

fn invalid_grant(description: &str) -> Response<Bytes> {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", description)
}

fn invalid_client() -> Response<Bytes> {
    let mut response = oauth_error(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "Client authentication failed",
    );
    response.headers_mut().insert(
        WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"sandbox\""),
    );
    response
}
