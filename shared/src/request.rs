//! Request decoding: form, multipart and JSON bodies, query strings, and the fields every handler reads.

use std::convert::Infallible;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use lambda_http::{Body, Request};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::ids;
#[cfg(feature = "openapi")]
use crate::ids::MAX_ID_BYTES;

/// The largest request body accepted; the endpoints take a few short fields.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Named values of a request body or query string.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Fields(Map<String, Value>);

/// Who a connection belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Identity {
    #[cfg_attr(feature = "openapi", schema(schema_with = id_schema))]
    pub user_id: String,
    #[cfg_attr(feature = "openapi", schema(schema_with = id_schema))]
    pub org_id: String,
}

/// An id as [`Fields::identity`] reads it: non-blank text of at most [`MAX_ID_BYTES`] bytes (a
/// schema's `maxLength` counts characters, hence the words), or a JSON number taken as its text.
#[cfg(feature = "openapi")]
pub fn id_schema() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Number]))
        .min_length(Some(1))
        .max_length(Some(MAX_ID_BYTES))
        .pattern(Some(r"\S"))
        .description(Some(format!("Not blank, at most {MAX_ID_BYTES} bytes of UTF-8")))
        .build()
}

/// What a bounded number must be: `what` (`a number`) from 1 to `max`.
pub fn range_rule(what: &str, max: u64) -> String {
    format!("must be {what} from 1 to {max}")
}

/// `text` as a whole number from 1 to `max` (a page's `limit`, a lifetime); `None` when absent,
/// and a 422 naming `name` when it is anything else.
pub fn bounded(name: &str, text: Option<&str>, what: &str, max: u64) -> Result<Option<u64>> {
    text.map(|text| {
        text.parse()
            .ok()
            .filter(|number| (1..=max).contains(number))
            .ok_or_else(|| Error::InvalidField {
                name: name.into(),
                why: range_rule(what, max),
            })
    })
    .transpose()
}

impl Fields {
    /// A body as a browser's form, a `FormData`, or a JSON object sends it.
    pub async fn from_request(request: &Request) -> Result<Self> {
        let body: &[u8] = match request.body() {
            Body::Empty => &[],
            Body::Text(text) => text.as_bytes(),
            Body::Binary(bytes) => bytes,
            _ => &[],
        };
        if body.len() > MAX_BODY_BYTES {
            return Err(Error::PayloadTooLarge(MAX_BODY_BYTES));
        }
        let content_type = request
            .headers()
            .get(CONTENT_TYPE)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .unwrap_or_default();
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "" if body.is_empty() => Ok(Fields::default()),
            "application/x-www-form-urlencoded" => Fields::from_query(body),
            "multipart/form-data" => {
                let boundary = multer::parse_boundary(&content_type)
                    .map_err(|_| Error::MalformedBody("multipart/form-data without a boundary".into()))?;
                Fields::from_multipart(Bytes::copy_from_slice(body), boundary).await
            }
            json if json == "application/json" || json.ends_with("+json") => {
                match serde_json::from_slice(body) {
                    Ok(Value::Object(map)) => Ok(Fields(map)),
                    Ok(_) => Err(Error::MalformedBody("The JSON body must be an object".into())),
                    Err(error) => Err(Error::MalformedBody(format!("Malformed JSON body: {error}"))),
                }
            }
            _ => Err(Error::UnsupportedMediaType(
                content_type.chars().take(100).collect(),
            )),
        }
    }

    /// The request's query string.
    pub fn of_query(request: &Request) -> Result<Self> {
        Fields::from_query(request.uri().query().unwrap_or_default().as_bytes())
    }

    /// `application/x-www-form-urlencoded` (bodies and query strings); the last of a repeated name wins.
    pub fn from_query(query: &[u8]) -> Result<Self> {
        let mut fields = Map::new();
        for pair in query.split(|&b| b == b'&').filter(|pair| !pair.is_empty()) {
            let mut parts = pair.splitn(2, |&b| b == b'=');
            let name = decode_component(parts.next().unwrap_or_default())?;
            let value = decode_component(parts.next().unwrap_or_default())?;
            fields.insert(name, Value::String(value));
        }
        Ok(Fields(fields))
    }

    async fn from_multipart(body: Bytes, boundary: String) -> Result<Self> {
        let malformed =
            |error: multer::Error| Error::MalformedBody(format!("Malformed multipart body: {error}"));
        let stream = futures_util::stream::once(async move { Ok::<_, Infallible>(body) });
        let mut multipart = multer::Multipart::new(stream, boundary);
        let mut fields = Map::new();
        while let Some(field) = multipart.next_field().await.map_err(malformed)? {
            let Some(name) = field.name().map(str::to_owned) else {
                continue;
            };
            let bytes = field.bytes().await.map_err(malformed)?;
            let value = String::from_utf8(bytes.to_vec()).map_err(|_| Error::NotUtf8(name.clone()))?;
            fields.insert(name, Value::String(value));
        }
        Ok(Fields(fields))
    }

    /// A text field; JSON numbers are accepted as their text.
    pub fn text(&self, name: &str) -> Option<String> {
        match self.0.get(name)? {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            _ => None,
        }
    }

    /// A text field that is not empty (an empty query parameter counts as omitted).
    pub fn present(&self, name: &str) -> Option<String> {
        self.text(name).filter(|value| !value.is_empty())
    }

    /// A list: a JSON array of strings, or comma-separated text; absent or empty is `None`
    /// (JSON `null` is no list).
    pub fn list(&self, name: &str) -> Result<Option<Vec<String>>> {
        let items: Vec<String> = match self.0.get(name) {
            None => return Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| item.as_str().map(str::to_owned))
                .collect::<Option<_>>()
                .ok_or_else(|| Error::InvalidField {
                    name: name.into(),
                    why: "must be a list of strings".into(),
                })?,
            Some(_) => match self.text(name) {
                Some(text) => text.split(',').map(|item| item.trim().to_owned()).collect(),
                None => {
                    return Err(Error::InvalidField {
                        name: name.into(),
                        why: "must be a list of strings".into(),
                    })
                }
            },
        };
        let items: Vec<String> = items.into_iter().filter(|item| !item.is_empty()).collect();
        Ok((!items.is_empty()).then_some(items))
    }

    /// A yes/no field: a JSON boolean, or `true`/`1`, `false`/`0` as text; absent or empty is no.
    pub fn flag(&self, name: &str) -> Result<bool> {
        if let Some(Value::Bool(flag)) = self.0.get(name) {
            return Ok(*flag);
        }
        match self.text(name).as_deref() {
            None | Some("" | "false" | "0") => Ok(false),
            Some("true" | "1") => Ok(true),
            Some(_) => Err(Error::InvalidField {
                name: name.into(),
                why: "must be true or false".into(),
            }),
        }
    }

    /// `user_id` and `org_id`: present, non-blank, at most [`MAX_ID_BYTES`].
    pub fn identity(&self) -> Result<Identity> {
        let id = |name: &'static str| {
            let value = self.text(name).ok_or(Error::MissingField(name))?;
            ids::check(name, &value)?;
            Ok::<_, Error>(value)
        };
        Ok(Identity {
            user_id: id("user_id")?,
            org_id: id("org_id")?,
        })
    }

    /// Whether the client sent a field at all, even an empty one.
    pub fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// The access token of the `credentials` field: the JSON object `/credentials` returned
    /// (or its text), which must carry a non-empty `access_token`.
    pub fn access_token(&self) -> Result<String> {
        let parsed;
        let credentials = match self.0.get("credentials") {
            None => return Err(Error::MissingField("credentials")),
            Some(Value::String(text)) => {
                parsed = serde_json::from_str::<Value>(text).map_err(|_| Error::MalformedCredentials)?;
                &parsed
            }
            Some(value) => value,
        };
        // A token goes into an `Authorization` header: anything but visible ASCII is no token.
        match credentials.get("access_token").and_then(Value::as_str) {
            Some(token) if !token.is_empty() && token.bytes().all(|b| b.is_ascii_graphic()) => {
                Ok(token.to_owned())
            }
            _ => Err(Error::MalformedCredentials),
        }
    }
}

/// Percent-decoding with `+` as space, refusing what is not UTF-8 rather than guessing.
fn decode_component(raw: &[u8]) -> Result<String> {
    let spaced: Vec<u8> = raw.iter().map(|&b| if b == b'+' { b' ' } else { b }).collect();
    percent_encoding::percent_decode(&spaced)
        .decode_utf8()
        .map(|text| text.into_owned())
        .map_err(|_| Error::NotUtf8("The form".into()))
}
