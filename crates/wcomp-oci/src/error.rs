/// What can go wrong talking to a registry.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid reference `{reference}`: {reason}")]
    Reference { reference: String, reason: String },
    #[error("could not reach {url}")]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{method} {url} answered {status}{}", detail.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
    Status {
        method: String,
        url: String,
        status: u16,
        detail: Option<String>,
    },
    #[error("{registry} refused the credentials{}", if *anonymous { " (no credentials were given)" } else { "" })]
    Unauthorized { registry: String, anonymous: bool },
    #[error("{what} has digest {actual}, expected {expected}")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },
    #[error("{0} was not found")]
    NotFound(String),
    #[error("malformed {what} from the registry: {message}")]
    Malformed { what: String, message: String },
    #[error("{what}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl From<wcomp_core::oci::MalformedJson> for Error {
    fn from(e: wcomp_core::oci::MalformedJson) -> Self {
        Error::Malformed {
            what: e.what.to_string(),
            message: e.message,
        }
    }
}

impl Error {
    /// Whether retrying the same request may succeed.
    pub(crate) fn transient(&self) -> bool {
        match self {
            Error::Http { source, .. } => {
                source.is_connect()
                    || source.is_timeout()
                    || source.is_request()
                    || source.is_body()
            }
            Error::Status { status, .. } => matches!(status, 408 | 429 | 500 | 502 | 503 | 504),
            _ => false,
        }
    }

    /// The exit code the error maps to: the registry answered and said no, or what it
    /// sent is wrong ([`wcomp_core::exit::FAILURE`]), or the request could not be made
    /// ([`wcomp_core::exit::USAGE`]).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::NotFound(_)
            | Error::Unauthorized { .. }
            | Error::Status { .. }
            | Error::DigestMismatch { .. }
            | Error::Malformed { .. } => wcomp_core::exit::FAILURE,
            Error::Reference { .. } | Error::Http { .. } | Error::Io { .. } => {
                wcomp_core::exit::USAGE
            }
        }
    }

    /// A suggestion for the likely fix.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Unauthorized { registry, .. } => Some(format!(
                "log in with `wcomp login {registry}`, or set WCOMP_REGISTRY_USER and WCOMP_REGISTRY_PASSWORD"
            )),
            Error::Http { .. } => Some(
                "is the registry running and the host right? Plain http is used only for \
                 localhost unless `--insecure` is given"
                    .to_string(),
            ),
            _ => None,
        }
    }
}
