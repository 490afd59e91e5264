//! The OpenAPI 3.1 document of what local-api serves: every route of [`ROUTES`] and the
//! sandbox's. Built from the route table and the types the handlers read and answer with, so
//! that it cannot drift from them; `GET /openapi.json` serves it and the repository keeps a copy
//! (`openapi.json`) that a test holds equal to it.

use integrations::connections::MAX_PAGE;
use integrations::connections::{Account, Status};
use integrations::handlers::{
    AccessToken, ConnectionsPage, Disconnected, LoadPage, SessionMinted, SyncStarted, DEFAULT_LIMIT,
    DEFAULT_LOAD_LIMIT, MAX_LOAD_LIMIT,
};
use integrations::ids::MAX_ID_BYTES;
use integrations::item::Item;
use integrations::keeper::{Metadata, Revocation};
use integrations::providers::PROVIDERS;
use integrations::request::{id_schema, Identity};
use integrations::response::Detail;
use integrations::routes::{Function, ROUTES};
use integrations::sessions::{DEFAULT_SESSION_SECS, MAX_SESSION_SECS};
use integrations::sync::{FeedItem, ItemsPage, SyncState, SyncView, DEFAULT_ITEMS_LIMIT, MAX_ITEMS_LIMIT};
use serde_json::json;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::{RequestBody, RequestBodyBuilder};
use utoipa::openapi::schema::{
    AdditionalProperties, AllOfBuilder, AnyOfBuilder, ArrayBuilder, ObjectBuilder, SchemaFormat, SchemaType,
    Type,
};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Paths, Ref, RefOr, Required,
    ResponseBuilder, Schema, Tag,
};
use utoipa::PartialSchema;

use crate::sandbox::MAX_CHANGES as MAX_SANDBOX_CHANGES;

/// The encodings every endpoint with a body accepts (`request::Fields::from_request`).
const BODY_TYPES: [&str; 3] = [
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "application/json",
];
const JSON: &str = "application/json";
const HTML: &str = "text/html; charset=utf-8";
const FORM: &str = "application/x-www-form-urlencoded";

/// The sandbox's own operations, which local-api serves beside [`ROUTES`].
pub const SANDBOX_ROUTES: &[(&str, &str)] = &[
    ("GET", "/sandbox/oauth/authorize"),
    ("POST", "/sandbox/oauth/authorize"),
    ("POST", "/sandbox/oauth/token"),
    ("POST", "/sandbox/oauth/revoke"),
    ("GET", "/sandbox/api/items"),
    ("POST", "/sandbox/api/changes"),
];

pub fn document() -> OpenApi {
    let mut paths = Paths::new();
    for route in ROUTES {
        paths.add_path_operation(route.path, vec![method(route.method)], operation(route.function));
    }
    for &(verb, path) in SANDBOX_ROUTES {
        paths.add_path_operation(path, vec![method(verb)], sandbox_operation(verb, path));
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("integrations")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "OAuth connections to Notion, HubSpot and Airtable, and their items in one shape. \
                     Every JSON error is `{\"detail\": \"…\"}`. The sandbox provider and `/sandbox/` \
                     are local-api's only.",
                ))
                .build(),
        )
        .paths(paths)
        .components(Some(
            ComponentsBuilder::new()
                .schema_from::<Item>()
                .schema_from::<Metadata>()
                .schema_from::<Status>()
                .schema_from::<Account>()
                .schema_from::<Identity>()
                .schema_from::<Detail>()
                .schema_from::<AccessToken>()
                .schema_from::<Disconnected>()
                .schema_from::<Revocation>()
                .schema_from::<ConnectionsPage>()
                .schema_from::<LoadPage>()
                .schema("ProviderTokens", provider_tokens())
                .schema("LoadRequest", load_request())
                .schema("TokenRequest", token_request())
                .schema("SyncRequest", sync_request())
                .schema("SessionRequest", session_request())
                .schema_from::<SessionMinted>()
                .schema_from::<SyncStarted>()
                .schema_from::<SyncView>()
                .schema_from::<SyncState>()
                .schema_from::<ItemsPage>()
                .schema_from::<FeedItem>()
                .schema("SandboxTokens", sandbox_tokens())
                .schema("SandboxItems", sandbox_items())
                .schema("SandboxChanges", sandbox_changes())
                .schema("SandboxChanged", sandbox_changed())
                .schema("OAuthError", oauth_error())
                .security_scheme(
                    "bearer",
                    SecurityScheme::Http(
                        Http::builder()
                            .scheme(HttpAuthScheme::Bearer)
                            .description(Some("One of API_KEYS as `Authorization: Bearer <key>`"))
                            .build(),
                    ),
                )
                .security_scheme(
                    "connect_session",
                    SecurityScheme::Http(
                        Http::builder()
                            .scheme(HttpAuthScheme::Bearer)
                            .description(Some(
                                "A connect session's token (`cs_…`, from POST /connect/sessions) as `Authorization: \
                                 Bearer <token>`: it connects its own user, once, to the providers it allows",
                            ))
                            .build(),
                    ),
                )
                .security_scheme(
                    "api_key",
                    SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                        "x-api-key",
                        "One of API_KEYS",
                    ))),
                )
                .security_scheme(
                    "sandbox_client",
                    SecurityScheme::Http(
                        Http::builder()
                            .scheme(HttpAuthScheme::Basic)
                            .description(Some(
                                "The sandbox client's id and secret (or client_id and client_secret in the form)",
                            ))
                            .build(),
                    ),
                )
                .build(),
        ))
        .tags(Some([
            Tag::new("integrations"),
            Tag::new("connections"),
            Tag::new("syncs"),
            Tag::new("webhooks"),
            Tag::new("sandbox"),
        ]))
        .build()
}

/// The document as the repository keeps it: pretty JSON, ending with a newline, with the
/// webhooks the app receives (OpenAPI 3.1's `webhooks`, which utoipa 5 does not build).
pub fn json() -> String {
    let document = document().to_pretty_json().expect("the document serializes");
    // Appended as the last member, so the rest keeps utoipa's order.
    let webhooks = serde_json::to_string_pretty(&webhooks()).expect("the webhooks serialize");
    let body = document
        .trim_end()
        .strip_suffix('}')
        .unwrap_or(&document)
        .trim_end();
    format!(
        "{body},\n  \"webhooks\": {}\n}}\n",
        webhooks.replace('\n', "\n  ")
    )
}

/// What is POSTed to `WEBHOOK_URL`, one entry per event type, signed as Standard Webhooks says.
fn webhooks() -> serde_json::Value {
    let header = |name: &str, description: &str| {
        serde_json::json!({"name": name, "in": "header", "required": true,
            "description": description, "schema": {"type": "string"}})
    };
    let parameters = [
        header("webhook-id", "The event's id: the same on every try (drop repeats by it)"),
        header("webhook-timestamp", "Unix seconds of this try"),
        header(
            "webhook-signature",
            "`v1,` and the base64 HMAC-SHA256 of `id.timestamp.body`, one per secret of WEBHOOK_SECRETS, space-separated",
        ),
    ];
    integrations::webhooks::EVENT_TYPES
        .iter()
        .map(|(kind, description)| {
            let data = if kind.starts_with("sync.") {
                serde_json::json!({"allOf": [{"$ref": "#/components/schemas/SyncView"}, {"type": "object",
                    "required": ["provider", "org_id", "user_id"], "properties": {"provider": {"type": "string"},
                    "org_id": {"type": "string"}, "user_id": {"type": "string"}}}]})
            } else {
                serde_json::json!({"allOf": [{"$ref": "#/components/schemas/Metadata"}],
                    "description": "The connection's metadata as GET …/connection shows it, plus what the event adds"})
            };
            let event = serde_json::json!({"type": "object", "required": ["type", "timestamp", "data"],
                "properties": {"type": {"const": kind}, "timestamp": {"type": "string", "format": "date-time"},
                "data": data}});
            let operation = serde_json::json!({"post": {
                "tags": ["webhooks"], "summary": kind, "description": description,
                "parameters": parameters,
                "requestBody": {"required": true, "content": {"application/json": {"schema": event}}},
                "responses": {"2XX": {"description": "Received. 408, 429 (with Retry-After), 5xx and timeouts \
                    are retried for about 24 h; other answers 3 times."}}}});
            (kind.to_string(), operation)
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

fn method(verb: &str) -> HttpMethod {
    match verb {
        "GET" => HttpMethod::Get,
        "POST" => HttpMethod::Post,
        "DELETE" => HttpMethod::Delete,
        other => unreachable!("no route uses {other}"),
    }
}

/// Each function's parameters, body and every status it can answer with. The match is
/// exhaustive: a new function does not compile until it is described here.
fn operation(function: Function) -> OperationBuilder {
    use Function::*;
    let (summary, ok, errors): (&str, _, &[u16]) = match function {
        Authorize => (
            "Start a consent: the provider's consent URL, with a fresh single-use state",
            json_answer("The consent URL", url()),
            &[400, 401, 403, 404, 413, 415, 422, 503],
        ),
        OAuth2Callback => (
            "The provider's redirect back: exchanges the code, keeps the tokens, closes the popup",
            ResponseBuilder::new()
                .description("A page that closes the popup")
                .content(HTML, ContentBuilder::new().schema(Some(html())).build())
                .build(),
            &[400, 401, 404, 502, 503, 504],
        ),
        Credentials => (
            "The tokens of the last consent, once (kept 10 minutes)",
            json_answer(
                "The provider's token response as it sent it",
                reference("ProviderTokens"),
            ),
            &[400, 401, 404, 413, 415, 422, 503],
        ),
        Load => (
            "Every item a token (or a kept connection) can see, at once or a page at a time",
            json_answer(
                "Every item, every page followed; with `limit` or `cursor`, one page",
                Schema::from(
                    AnyOfBuilder::new()
                        .item(ArrayBuilder::new().items(reference("Item")))
                        .item(reference("LoadPage")),
                ),
            ),
            &[400, 401, 404, 409, 413, 415, 422, 502, 503, 504],
        ),
        Connection => (
            "A connection's metadata, never a token",
            json_answer("The connection", reference("Metadata")),
            &[401, 404, 422, 503],
        ),
        Disconnect => (
            "Revoke at the provider where it documents how, then forget the connection",
            json_answer("Deleted", reference("Disconnected")),
            &[401, 404, 422, 503],
        ),
        Token => (
            "An access token, refreshed first when due or forced",
            json_answer("A token fit for use", reference("AccessToken")),
            &[400, 401, 404, 409, 413, 415, 422, 502, 503, 504],
        ),
        Connections => (
            "An org's connections, a page at a time",
            json_answer("A page", reference("ConnectionsPage")),
            &[401, 422, 503],
        ),
        StartSync => (
            "Start a background sync of a kept connection, or answer the one running",
            json_answer("Started, or already running", reference("SyncStarted")),
            &[400, 401, 404, 413, 415, 422, 503],
        ),
        SyncStatus => (
            "The connection's current or last sync, never a token",
            json_answer(
                "The sync (idle, nothing counted, before the first)",
                reference("SyncView"),
            ),
            &[401, 404, 422, 503],
        ),
        ConnectSessions => (
            "Mint a connect session: a short-lived token the browser starts one connect with, instead of the API key",
            json_answer("The token (shown once) and its expiry", reference("SessionMinted")),
            &[400, 401, 413, 415, 422, 503],
        ),
        Items => (
            "What the syncs kept, in the order they recorded it: by page, and by change since a time",
            json_answer("A page; no provider request made", reference("ItemsPage")),
            &[401, 404, 422, 503],
        ),
    };
    // Starting a sync answers before it has run.
    let ok_status = match function {
        StartSync => "202",
        ConnectSessions => "201",
        _ => "200",
    };
    let mut operation = OperationBuilder::new()
        .operation_id(Some(function.name()))
        .summary(Some(summary))
        .tag(
            if matches!(function, Connection | Disconnect | Token | Connections) {
                "connections"
            } else if matches!(function, StartSync | SyncStatus | Items) {
                "syncs"
            } else {
                "integrations"
            },
        )
        .response(ok_status, ok);
    for &status in errors {
        operation = operation.response(status.to_string(), error_answer(function, status));
    }
    if function.route().path.contains("{provider}") {
        operation = operation.parameter(
            ParameterBuilder::new()
                .name("provider")
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some("Any other name is answered 404"))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some(PROVIDERS.iter().map(|spec| spec.name))),
                )),
        );
    }
    operation = match function {
        Authorize | Credentials => operation.request_body(Some(body(reference("Identity")))),
        Load => operation.request_body(Some(body(reference("LoadRequest")))),
        Token => operation.request_body(Some(body(reference("TokenRequest")))),
        StartSync => operation.request_body(Some(body(reference("SyncRequest")))),
        ConnectSessions => operation.request_body(Some(body(reference("SessionRequest")))),
        OAuth2Callback => ["code", "state", "error", "error_description"]
            .into_iter()
            .fold(operation, |operation, name| {
                operation.parameter(query(name, false, string()))
            }),
        Connection | Disconnect | SyncStatus => {
            operation
                .parameter(query("org_id", true, id()))
                .parameter(query("user_id", true, id()))
        }
        Items => operation
            .parameter(query("org_id", true, id()))
            .parameter(query("user_id", true, id()))
            .parameter(query(
                "modified_after",
                false,
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::DateTime)))
                    .description(Some(
                        "Only versions recorded after this time (an item's synced_at): with the cursor, a change feed",
                    ))
                    .into(),
            ))
            .parameter(limit(MAX_ITEMS_LIMIT, DEFAULT_ITEMS_LIMIT))
            .parameter(cursor()),
        Connections => operation
            .parameter(query("org_id", true, filter_id()))
            .parameter(query("user_id", false, optional_filter()))
            .parameter(query("provider", false, string()))
            .parameter(limit(MAX_PAGE, DEFAULT_LIMIT))
            .parameter(cursor()),
    };
    // The callback is reached by the user's browser: its guard is the single-use state.
    if function.is_browser_facing() {
        operation.securities(Some([]))
    } else {
        let mut securities = vec![
            SecurityRequirement::new("bearer", Vec::<String>::new()),
            SecurityRequirement::new("api_key", Vec::<String>::new()),
            // Without API_KEYS every endpoint is open.
            SecurityRequirement::default(),
        ];
        if function.takes_sessions() {
            securities.insert(
                0,
                SecurityRequirement::new("connect_session", Vec::<String>::new()),
            );
        }
        operation.securities(Some(securities))
    }
}

/// An error answer: `{"detail"}`, or for the callback the page saying why. A path that routes
/// nowhere (a provider with a `/`) is local-api's JSON 404, whatever the function.
fn error_answer(function: Function, status: u16) -> RefOr<utoipa::openapi::Response> {
    let detail = ContentBuilder::new().schema(Some(reference("Detail"))).build();
    let mut response = ResponseBuilder::new().description(error_description(status));
    if function.is_browser_facing() {
        response = response.content(HTML, ContentBuilder::new().schema(Some(html())).build());
        if status == 404 {
            response = response.content(JSON, detail);
        }
    } else {
        response = response.content(JSON, detail);
    }
    response.build().into()
}

fn error_description(status: u16) -> &'static str {
    match status {
        400 => "Malformed input, or the provider refused the request (an invalid or used code)",
        401 => "A missing or wrong API key (or connect session), or a token the provider refused",
        403 => "A connect session that does not allow this provider or user",
        404 => "Unknown provider, or nothing found (credentials, connection)",
        409 => "The connection needs a new consent",
        413 => "The body is over 1 MiB",
        415 => "A content type other than form, multipart or JSON",
        422 => "A missing or invalid field",
        502 => "The provider failed, after bounded retries",
        503 => "The provider is not configured (the detail names what to set), or the store is unavailable",
        504 => "The provider or the deadline ran out of time",
        _ => unreachable!("no function answers {status}"),
    }
}

fn json_answer(description: &str, schema: impl Into<RefOr<Schema>>) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(JSON, ContentBuilder::new().schema(Some(schema)).build())
        .build()
}

/// A required body, the same schema in each accepted encoding.
fn body(schema: RefOr<Schema>) -> RequestBody {
    BODY_TYPES
        .into_iter()
        .fold(RequestBodyBuilder::new(), |body, content_type| {
            body.content(
                content_type,
                ContentBuilder::new().schema(Some(schema.clone())).build(),
            )
        })
        .required(Some(Required::True))
        .build()
}

fn query(name: &str, required: bool, schema: RefOr<Schema>) -> ParameterBuilder {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(if required { Required::True } else { Required::False })
        .schema(Some(schema))
}

fn reference(name: &str) -> RefOr<Schema> {
    Ref::from_schema_name(name).into()
}

fn string() -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(Type::String).into()
}

fn url() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::Custom("uri".into())))
        .into()
}

fn html() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .content_media_type("text/html")
        .into()
}

fn id() -> RefOr<Schema> {
    id_schema().into()
}

/// `/connections` filters by an id as given: a blank one matches nothing rather than being refused.
/// A filter that an empty value leaves off, as an empty query parameter counts as omitted.
fn optional_filter() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(MAX_ID_BYTES))
        .description(Some("Empty: no filter"))
        .into()
}

fn filter_id() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(MAX_ID_BYTES))
        .into()
}

/// What `/credentials` hands out: the provider's token response, which always has an access token.
fn provider_tokens() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "access_token",
            ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)),
        )
        .required("access_token")
        .additional_properties(Some(AdditionalProperties::FreeForm(true)))
        .description(Some(
            "The provider's token response as it sent it (Notion's workspace_id and owner, \
             Airtable's refresh_expires_in, ...)",
        ))
        .into()
}

/// A load by `credentials` (the object `/credentials` returned, or its JSON text, which is what a
/// form can carry), or by `user_id` and `org_id` of a kept connection.
fn load_request() -> Schema {
    let by_credentials = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "credentials",
            AnyOfBuilder::new().item(reference("ProviderTokens")).item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .content_media_type(JSON)
                    .description(Some("The object as JSON text")),
            ),
        )
        .required("credentials");
    // Either sent asks for one page; `next_cursor` is `null` on the last.
    let paging = || {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property(
                "limit",
                AnyOfBuilder::new()
                    .item(
                        ObjectBuilder::new()
                            .schema_type(Type::Integer)
                            .minimum(Some(1))
                            .maximum(Some(MAX_LOAD_LIMIT as u32)),
                    )
                    .item(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .pattern(Some("^[0-9]+$")),
                    )
                    .description(Some(format!(
                        "Items per page (default {DEFAULT_LOAD_LIMIT} with a cursor)"
                    ))),
            )
            .property(
                "cursor",
                ObjectBuilder::new().schema_type(Type::String).description(Some(
                    "The previous page's next_cursor: opaque, sealed, valid an hour",
                )),
            )
    };
    AnyOfBuilder::new()
        .item(AllOfBuilder::new().item(by_credentials).item(paging()))
        .item(AllOfBuilder::new().item(reference("Identity")).item(paging()))
        .into()
}

fn token_request() -> Schema {
    flag_request("force_refresh", "Refresh even when the token is not due")
}

/// Who a connect session connects, to which providers, for how long.
fn session_request() -> Schema {
    let provider_names: Vec<&str> = PROVIDERS.iter().map(|spec| spec.name).collect();
    let mut request = match Identity::schema() {
        RefOr::T(Schema::Object(identity)) => identity,
        _ => unreachable!("Identity is an object"),
    };
    let names = || {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(PROVIDERS.iter().map(|spec| spec.name)))
    };
    request.properties.insert(
        "providers".into(),
        AnyOfBuilder::new()
            .item(ArrayBuilder::new().items(names()))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(format!(
                        "^ *({names})? *(, *({names}) *)*$",
                        names = provider_names.join("|")
                    )))
                    .description(Some("comma-separated")),
            )
            .description(Some("The providers it may connect; any when absent or empty"))
            .into(),
    );
    request.properties.insert(
        "expires_in".into(),
        AnyOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1))
                    .maximum(Some(MAX_SESSION_SECS as u32)),
            )
            // 1 to MAX_SESSION_SECS (3600) as text; empty, as a form may send it, is the default.
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some("^([1-9][0-9]{0,2}|[12][0-9]{3}|3[0-5][0-9]{2}|3600)?$")),
            )
            .description(Some(format!("Seconds it lives (default {DEFAULT_SESSION_SECS})")))
            .into(),
    );
    request.into()
}

fn sync_request() -> Schema {
    flag_request(
        "full",
        "Read every item (and find deletions) even where changes alone could be read",
    )
}

/// The identity of a kept connection and one boolean flag.
fn flag_request(name: &str, description: &str) -> Schema {
    let flag = AnyOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Boolean))
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["true", "false", "1", "0", ""])),
        )
        .description(Some(description));
    let mut request = match Identity::schema() {
        RefOr::T(Schema::Object(identity)) => identity,
        _ => unreachable!("Identity is an object"),
    };
    request.properties.insert(name.into(), flag.into());
    request.into()
}

/// The sandbox's operations: an RFC 6749 authorization server and a small resource API.
fn sandbox_operation(verb: &str, path: &str) -> OperationBuilder {
    let operation = OperationBuilder::new().tag("sandbox");
    let page = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(HTML, ContentBuilder::new().schema(Some(html())).build())
            .build()
    };
    let redirect = ResponseBuilder::new()
        .description("Back to the client's redirect_uri, with a code or an error (RFC 6749 §4.1.2)")
        .header("Location", HeaderBuilder::new().schema(url()).build())
        .build();
    let oauth = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                JSON,
                ContentBuilder::new()
                    .schema(Some(reference("OAuthError")))
                    .build(),
            )
            .build()
    };
    let client = || {
        [
            SecurityRequirement::new("sandbox_client", Vec::<String>::new()),
            // client_secret_post: the credentials in the form instead.
            SecurityRequirement::default(),
        ]
    };
    let authorization_fields = [
        "response_type",
        "client_id",
        "redirect_uri",
        "state",
        "scope",
        "code_challenge",
        "code_challenge_method",
    ];
    match (verb, path) {
        ("GET", "/sandbox/oauth/authorize") => authorization_fields
            .into_iter()
            .fold(operation, |operation, name| {
                operation.parameter(query(name, false, string()))
            })
            .operation_id(Some("sandbox_authorize_page"))
            .summary(Some("The consent page"))
            .response("200", page("The consent form"))
            .response("303", redirect)
            .response(
                "400",
                page("An unknown client or redirect_uri, shown to the user"),
            ),
        ("POST", "/sandbox/oauth/authorize") => {
            let mut form = ObjectBuilder::new().schema_type(Type::Object).property(
                "decision",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["allow", "deny"])),
            );
            for name in authorization_fields {
                form = form.property(name, ObjectBuilder::new().schema_type(Type::String));
            }
            operation
                .operation_id(Some("sandbox_authorize_decision"))
                .summary(Some("The user's answer to the consent page"))
                .request_body(Some(form_body(form.into())))
                .response("303", redirect)
                .response("400", page("Not a form, or an unknown client or redirect_uri"))
        }
        ("POST", "/sandbox/oauth/token") => operation
            .operation_id(Some("sandbox_token"))
            .summary(Some(
                "The token endpoint: authorization_code and refresh_token grants",
            ))
            .request_body(Some(form_body(form_of(&[
                "grant_type",
                "code",
                "redirect_uri",
                "code_verifier",
                "refresh_token",
                "scope",
                "client_id",
                "client_secret",
            ]))))
            .securities(Some(client()))
            .response(
                "200",
                ResponseBuilder::new()
                    .description("New tokens")
                    .content(
                        JSON,
                        ContentBuilder::new()
                            .schema(Some(reference("SandboxTokens")))
                            .build(),
                    )
                    .build(),
            )
            .response("400", oauth("A malformed request or a refused grant"))
            .response("401", oauth("Client authentication failed")),
        ("POST", "/sandbox/oauth/revoke") => operation
            .operation_id(Some("sandbox_revoke"))
            .summary(Some(
                "RFC 7009 revocation: 200 whether or not the token was known",
            ))
            .request_body(Some(form_body(form_of(&["token", "client_id", "client_secret"]))))
            .securities(Some(client()))
            .response("200", ResponseBuilder::new().description("Revoked").build())
            .response("400", oauth("A malformed request"))
            .response("401", oauth("Client authentication failed")),
        ("GET", "/sandbox/api/items") => operation
            .operation_id(Some("sandbox_items"))
            .summary(Some("A page of the sandbox workspace's folders and documents"))
            .parameter(query("cursor", false, string()))
            .parameter(query(
                "page_size",
                false,
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1))
                    .maximum(Some(100))
                    .into(),
            ))
            .securities(Some([SecurityRequirement::new("bearer", Vec::<String>::new())]))
            .response(
                "200",
                ResponseBuilder::new()
                    .description("A page")
                    .content(
                        JSON,
                        ContentBuilder::new()
                            .schema(Some(reference("SandboxItems")))
                            .build(),
                    )
                    .build(),
            )
            .response("400", oauth("A malformed page_size or cursor"))
            .response(
                "401",
                oauth("A missing, unknown, revoked or expired access token"),
            ),
        ("POST", "/sandbox/api/changes") => operation
            .operation_id(Some("sandbox_changes"))
            .summary(Some(
                "Edit and delete documents of the workspace, so that the next sync finds changes",
            ))
            .description(Some(
                "Removes the last `delete` live documents from the listing, then renames the first \
                 `edit` of those left (\" (edited)\") and sets their updated_at to now; folders are \
                 never changed. The changes last as long as the sandbox.",
            ))
            .request_body(Some(
                [FORM, JSON]
                    .into_iter()
                    .fold(RequestBodyBuilder::new(), |body, content_type| {
                        body.content(
                            content_type,
                            ContentBuilder::new()
                                .schema(Some(reference("SandboxChanges")))
                                .build(),
                        )
                    })
                    .build(),
            ))
            .securities(Some([SecurityRequirement::new("bearer", Vec::<String>::new())]))
            .response(
                "200",
                ResponseBuilder::new()
                    .description("What was changed, in listing order")
                    .content(
                        JSON,
                        ContentBuilder::new()
                            .schema(Some(reference("SandboxChanged")))
                            .build(),
                    )
                    .build(),
            )
            .response(
                "401",
                oauth("A missing, unknown, revoked or expired access token"),
            )
            .response(
                "422",
                ResponseBuilder::new()
                    .description(
                        "Neither a form nor a JSON object, a field other than edit and delete, or a \
                         count that is not a whole number from 0 to 1000",
                    )
                    .content(
                        JSON,
                        ContentBuilder::new().schema(Some(reference("Detail"))).build(),
                    )
                    .build(),
            ),
        _ => unreachable!("{verb} {path} is not a sandbox route"),
    }
}

fn form_body(schema: RefOr<Schema>) -> RequestBody {
    RequestBodyBuilder::new()
        .content(FORM, ContentBuilder::new().schema(Some(schema)).build())
        .required(Some(Required::True))
        .build()
}

/// A form of optional text fields: the sandbox checks them itself and answers RFC 6749 errors.
fn form_of(names: &[&str]) -> RefOr<Schema> {
    names
        .iter()
        .fold(ObjectBuilder::new().schema_type(Type::Object), |form, name| {
            form.property(*name, ObjectBuilder::new().schema_type(Type::String))
        })
        .into()
}

fn sandbox_tokens() -> Schema {
    let mut tokens = ObjectBuilder::new().schema_type(Type::Object);
    for name in [
        "access_token",
        "token_type",
        "refresh_token",
        "scope",
        "account_id",
        "account_name",
    ] {
        tokens = tokens
            .property(name, ObjectBuilder::new().schema_type(Type::String))
            .required(name);
    }
    tokens
        .property("expires_in", ObjectBuilder::new().schema_type(Type::Integer))
        .required("expires_in")
        .into()
}

fn sandbox_items() -> Schema {
    let nullable = || ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::String, Type::Null]));
    let mut item = ObjectBuilder::new().schema_type(Type::Object);
    for name in ["id", "kind", "name", "created_at", "updated_at", "url"] {
        item = item
            .property(name, ObjectBuilder::new().schema_type(Type::String))
            .required(name);
    }
    item = item.property("parent_id", nullable()).required("parent_id");
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("items", ArrayBuilder::new().items(item))
        .required("items")
        .property("next_cursor", nullable())
        .required("next_cursor")
        .into()
}

/// What `POST /sandbox/api/changes` reads: each count optional (0), at most 1000.
fn sandbox_changes() -> Schema {
    let count = |description: &str| {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(0))
            .maximum(Some(MAX_SANDBOX_CHANGES as u32))
            .default(Some(json!(0)))
            .description(Some(description))
    };
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "edit",
            count("Documents to rename (\" (edited)\") and mark updated now, from the first"),
        )
        .property(
            "delete",
            count("Documents to remove from the listing, from the last"),
        )
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .into()
}

/// The ids `POST /sandbox/api/changes` edited and deleted.
fn sandbox_changed() -> Schema {
    let ids = || ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::String));
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("edited", ids())
        .required("edited")
        .property("deleted", ids())
        .required("deleted")
        .into()
}

/// RFC 6749 §5.2.
fn oauth_error() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("error", ObjectBuilder::new().schema_type(Type::String))
        .required("error")
        .property(
            "error_description",
            ObjectBuilder::new().schema_type(Type::String),
        )
        .into()
}

/// A page's `limit` query parameter.
fn limit(max: usize, default: usize) -> ParameterBuilder {
    query(
        "limit",
        false,
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1))
            .maximum(Some(max as u32))
            .default(Some(json!(default)))
            .into(),
    )
}

/// A page's `cursor` query parameter.
fn cursor() -> ParameterBuilder {
    query(
        "cursor",
        false,
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("next_cursor of the previous page"))
            .into(),
    )
}
