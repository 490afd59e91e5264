//! The route table: every (method, path, function) the API serves. `local-api` routes by it and a
//! test holds `template.yaml`'s events to it, so a route cannot exist in one and not the other.

use std::collections::HashMap;

use crate::providers::Needs;
use crate::response::ErrorFormat;

/// A Lambda function: its binary, its route, and its `events/<name>[-case].json` files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    Authorize,
    OAuth2Callback,
    Credentials,
    Load,
    Connection,
    Disconnect,
    Token,
    Connections,
    StartSync,
    SyncStatus,
    Items,
    ConnectSessions,
}

pub struct Route {
    pub method: &'static str,
    /// API Gateway's path syntax, which `matchit` shares: `{provider}` is one segment.
    pub path: &'static str,
    pub function: Function,
}

pub const ROUTES: &[Route] = &[
    Route {
        method: "POST",
        path: "/integrations/{provider}/authorize",
        function: Function::Authorize,
    },
    Route {
        method: "GET",
        path: "/integrations/{provider}/oauth2callback",
        function: Function::OAuth2Callback,
    },
    Route {
        method: "POST",
        path: "/integrations/{provider}/credentials",
        function: Function::Credentials,
    },
    Route {
        method: "POST",
        path: "/integrations/{provider}/load",
        function: Function::Load,
    },
    Route {
        method: "GET",
        path: "/integrations/{provider}/connection",
        function: Function::Connection,
    },
    Route {
        method: "DELETE",
        path: "/integrations/{provider}/connection",
        function: Function::Disconnect,
    },
    Route {
        method: "POST",
        path: "/integrations/{provider}/token",
        function: Function::Token,
    },
    Route {
        method: "GET",
        path: "/connections",
        function: Function::Connections,
    },
    Route {
        method: "POST",
        path: "/integrations/{provider}/sync",
        function: Function::StartSync,
    },
    Route {
        method: "GET",
        path: "/integrations/{provider}/sync",
        function: Function::SyncStatus,
    },
    Route {
        method: "GET",
        path: "/integrations/{provider}/items",
        function: Function::Items,
    },
    Route {
        method: "POST",
        path: "/connect/sessions",
        function: Function::ConnectSessions,
    },
];

impl Function {
    pub const ALL: [Function; 12] = [
        Function::Authorize,
        Function::OAuth2Callback,
        Function::Credentials,
        Function::Load,
        Function::Connection,
        Function::Disconnect,
        Function::Token,
        Function::Connections,
        Function::StartSync,
        Function::SyncStatus,
        Function::Items,
        Function::ConnectSessions,
    ];

    /// The binary's (and crate's) name.
    pub fn name(self) -> &'static str {
        match self {
            Function::Authorize => "authorize",
            Function::OAuth2Callback => "oauth2callback",
            Function::Credentials => "credentials",
            Function::Load => "load",
            Function::Connection => "connection",
            Function::Disconnect => "disconnect",
            Function::Token => "token",
            Function::Connections => "connections",
            Function::StartSync => "startsync",
            Function::SyncStatus => "syncstatus",
            Function::Items => "items",
            Function::ConnectSessions => "connectsessions",
        }
    }

    pub fn from_name(name: &str) -> Option<Function> {
        Function::ALL.into_iter().find(|function| function.name() == name)
    }

    pub fn route(self) -> &'static Route {
        ROUTES
            .iter()
            .find(|route| route.function == self)
            .expect("every function has a route")
    }

    /// What the function reads of each provider's configuration, all its requests together:
    /// what the deployment must hand it (the template test holds `template.yaml` to it).
    pub fn needs(self) -> Needs {
        match self {
            Function::Authorize => Needs::CONSENT,
            Function::OAuth2Callback => Needs::CODE_GRANT,
            // By credentials, the API; by connection, a refresh too.
            Function::Load => Needs::API.and(Needs::CLIENT),
            Function::Disconnect | Function::Token => Needs::CLIENT,
            // A sync's steps call the provider; starting one, or reading what it kept, does not.
            Function::Credentials
            | Function::Connection
            | Function::Connections
            | Function::StartSync
            | Function::SyncStatus
            | Function::Items
            | Function::ConnectSessions => Needs::NOTHING,
        }
    }

    /// Starting a consent may be authorised by a connect session instead of an API key: the
    /// browser holds the session, never the key.
    pub fn takes_sessions(self) -> bool {
        self == Function::Authorize
    }

    /// The callback is reached by the user's browser from the provider: its guard is the
    /// single-use state, not an API key, and it answers pages rather than JSON.
    pub fn is_browser_facing(self) -> bool {
        self == Function::OAuth2Callback
    }

    pub fn error_format(self) -> ErrorFormat {
        if self.is_browser_facing() {
            ErrorFormat::Html
        } else {
            ErrorFormat::Json
        }
    }
}

/// What a request's method and path resolve to.
#[derive(Debug, PartialEq, Eq)]
pub enum Routed {
    Found {
        function: Function,
        /// Path parameters, percent-decoded.
        parameters: HashMap<String, String>,
    },
    /// The path exists for other methods (`OPTIONS` preflights resolve to any of them).
    MethodNotAllowed,
    NotFound,
}

/// [`ROUTES`] compiled for matching.
pub struct Router(matchit::Router<Vec<(&'static str, Function)>>);

impl Default for Router {
    fn default() -> Self {
        let mut by_path: Vec<(&str, Vec<(&str, Function)>)> = Vec::new();
        for route in ROUTES {
            match by_path.iter_mut().find(|(path, _)| *path == route.path) {
                Some((_, methods)) => methods.push((route.method, route.function)),
                None => by_path.push((route.path, vec![(route.method, route.function)])),
            }
        }
        let mut router = matchit::Router::new();
        for (path, methods) in by_path {
            router
                .insert(path, methods)
                .expect("the route table has no conflicts");
        }
        Router(router)
    }
}

impl Router {
    pub fn at(&self, method: &str, path: &str) -> Routed {
        let Ok(matched) = self.0.at(path) else {
            return Routed::NotFound;
        };
        let function = matched
            .value
            .iter()
            .find(|(allowed, _)| *allowed == method || method == "OPTIONS")
            .map(|(_, function)| *function);
        match function {
            Some(function) => Routed::Found {
                function,
                parameters: matched
                    .params
                    .iter()
                    .map(|(name, value)| {
                        let value = percent_encoding::percent_decode_str(value).decode_utf8_lossy();
                        (name.to_owned(), value.into_owned())
                    })
                    .collect(),
            },
            None => Routed::MethodNotAllowed,
        }
    }

    /// The methods `path` is served with, for a 405's `Allow`; none when it routes nowhere.
    pub fn allowed(&self, path: &str) -> Vec<&'static str> {
        self.0
            .at(path)
            .map(|matched| matched.value.iter().map(|(method, _)| *method).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_function_has_one_route_and_a_unique_name() {
        for function in Function::ALL {
            assert_eq!(
                ROUTES.iter().filter(|route| route.function == function).count(),
                1
            );
            assert_eq!(Function::from_name(function.name()), Some(function));
        }
        assert_eq!(ROUTES.len(), Function::ALL.len());
    }

    #[test]
    fn routes_by_method_and_path_with_decoded_parameters() {
        let router = Router::default();
        let Routed::Found { function, parameters } = router.at("POST", "/integrations/no%20tion/load") else {
            panic!("not routed");
        };
        assert_eq!(
            (function, parameters["provider"].as_str()),
            (Function::Load, "no tion")
        );
        assert_eq!(
            router.at("GET", "/integrations/notion/load"),
            Routed::MethodNotAllowed
        );
        assert_eq!(
            router.allowed("/integrations/notion/connection"),
            ["GET", "DELETE"]
        );
        assert!(router.allowed("/nothing").is_empty());
        assert_eq!(
            router.at("POST", "/integrations/notion/load/more"),
            Routed::NotFound
        );
        assert_eq!(router.at("POST", "/"), Routed::NotFound);
        assert!(matches!(
            router.at("OPTIONS", "/integrations/x/authorize"),
            Routed::Found { .. }
        ));
    }
}
