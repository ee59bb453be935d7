//! `auditq serve`: its options (a clap subcommand, so none of them is accepted outside
//! it, and the search/follow options are refused inside it), its configuration, and
//! running it.

use super::args::parse_size;
use crate::engine::{Engine, Output};
use crate::error::Error;
use crate::invalid::Invalid;
use crate::query::{self, Presets};
use crate::serve::forward::ForwardTls;
use crate::serve::logging::LogFormat;
use crate::serve::rotate::{MEGABYTE, RotatingFile, Rotation};
use crate::serve::tls::TlsFiles;
use crate::serve::writer::Plans;
use crate::serve::{self, Settings};
use crate::sink::{Format, Sink, Totals};
use clap::Parser;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// The default address: loopback only (another address needs TLS or --insecure-listen).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9780";

/// Receive kube-apiserver's audit webhook: filter the batches, write the matches.
#[derive(Debug, Clone, Parser, PartialEq)]
#[command(
    long_about = "Receive kube-apiserver's audit webhook (--audit-webhook-config-file): POSTed \
        audit.k8s.io/v1 or v1beta1 EventLists and single Events (gzip bodies too). Matching \
        events are written as JSON lines to stdout or --out FILE (rotated like the apiserver's \
        own log, so `auditq -f FILE` reads them), and a batch is answered 200 only once it is \
        written. See docs/webhook.md.",
    after_help = "Examples:\n  \
        auditq serve --tls-cert tls.crt --tls-key tls.key --client-ca ca.crt \\\n    \
        --listen 0.0.0.0:9780 --out /var/log/auditq/audit.log --max-size 100 --compress\n  \
        auditq serve 'verb=delete resource=secrets' --path /k8s-audit\n  \
        auditq serve --print-kubeconfig https://auditq.example:9780/audit"
)]
pub struct ServeArgs {
    /// Query text (joined with AND); without one every event is written.
    #[arg(value_name = "QUERY")]
    pub query: Vec<String>,

    /// Query text (repeatable; joined with AND).
    #[arg(short = 'e', long = "query", value_name = "TEXT")]
    pub query_flag: Vec<String>,

    /// Address and port to listen on. Without TLS only a loopback address is allowed
    /// (unless --insecure-listen).
    #[arg(long, value_name = "ADDR:PORT", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,

    /// Allow listening on a non-loopback address without TLS (anyone who reaches the
    /// port can then write events).
    #[arg(long)]
    pub insecure_listen: bool,

    /// Paths batches are POSTed to, comma-separated (a query string like ?timeout=30s is
    /// ignored).
    #[arg(long, value_name = "PATHS", value_delimiter = ',', default_value = "/audit,/k8s-audit", value_parser = parse_path)]
    pub path: Vec<String>,

    /// Write to this file instead of stdout (created 0600, appended to).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Output: jsonl, table, wide, csv, tsv, or fields=a,b,… (not json: the stream
    /// never ends) [default: jsonl]
    #[arg(short, long, value_name = "FORMAT", value_parser = parse_serve_format)]
    pub output: Option<Format>,

    /// Rotate --out when it would grow past this many megabytes (MiB), like
    /// kube-apiserver's --audit-log-maxsize.
    #[arg(long, value_name = "MB", requires = "out", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_size: Option<u64>,

    /// Keep at most N rotated backups (0: all), like --audit-log-maxbackup.
    #[arg(long, value_name = "N", requires = "max_size")]
    pub max_backups: Option<usize>,

    /// Remove backups older than DAYS (by the time in their names), like
    /// --audit-log-maxage.
    #[arg(long, value_name = "DAYS", requires = "max_size", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_age: Option<u64>,

    /// Gzip rotated backups, like --audit-log-compress.
    #[arg(long, requires = "max_size")]
    pub compress: bool,

    /// Answer 200 only after the batch is on disk (fdatasync), not only handed to the OS.
    #[arg(long, requires = "out")]
    pub fsync: bool,

    /// Serve HTTPS (HTTP/2 and HTTP/1.1) with this certificate chain (PEM); read again
    /// when the file changes.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Require a client certificate signed by this CA (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub client_ca: Option<PathBuf>,

    /// Require `Authorization: Bearer TOKEN` with one of the tokens in FILE (one a line,
    /// or kube-apiserver's token,user,uid format). Needs TLS: the apiserver sends no
    /// token over http.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub token_file: Option<PathBuf>,

    /// Largest request body, after gzip decoding (413 above it).
    #[arg(long, value_name = "BYTES", default_value = "32MiB", value_parser = parse_size)]
    pub max_body: usize,

    /// Batches held at once (being received, waiting or being written); more are answered
    /// 429 with Retry-After. Memory is bounded by about 2 × --queue × --max-body.
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub queue: u32,

    /// Seconds in the Retry-After of 429 and 503 answers.
    #[arg(long, value_name = "SECONDS", default_value_t = 1)]
    pub retry_after: u64,

    /// Send the matching events of each batch on, as one EventList POST, to this http://
    /// or https:// URL (repeatable; e.g. Falco's http://127.0.0.1:9765/k8s-audit).
    /// Connections are kept alive; its own queue of 64 batches and 5 attempts; dropped
    /// batches are counted in /metrics. With -o jsonl only.
    #[arg(long, value_name = "URL", value_parser = parse_forward)]
    pub forward: Vec<crate::serve::forward::Target>,

    /// Verify https:// --forward targets against this CA (PEM) instead of the built-in
    /// public roots (Mozilla's, from webpki-roots).
    #[arg(long, value_name = "FILE", requires = "forward")]
    pub forward_ca: Option<PathBuf>,

    /// Client certificate (PEM) for https:// --forward targets that require one (e.g.
    /// another auditq serve with --client-ca).
    #[arg(long, value_name = "FILE", requires_all = ["forward", "forward_key"])]
    pub forward_cert: Option<PathBuf>,

    /// The private key of --forward-cert (PEM).
    #[arg(long, value_name = "FILE", requires_all = ["forward", "forward_cert"])]
    pub forward_key: Option<PathBuf>,

    /// Connections open at once; one more is closed as soon as it is accepted (counted in
    /// /metrics as too_many_connections). The apiserver needs a few.
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,

    /// How log lines on stderr are written: logfmt (`auditq: level=info msg="…" key=value`)
    /// or json (one object a line: {"level":…,"msg":…,"key":…}).
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = LogFormat::Logfmt)]
    pub log_format: LogFormat,

    /// Print a webhook kubeconfig for the apiserver (--audit-webhook-config-file) that
    /// sends to URL, and exit.
    #[arg(long, value_name = "URL", exclusive = true)]
    pub print_kubeconfig: Option<String>,
}

fn parse_path(text: &str) -> Result<String, Invalid> {
    if text.starts_with('/') && !text.contains(['?', '#', ' ']) {
        Ok(text.to_string())
    } else {
        Err(format!("`{text}` is not a path like /audit").into())
    }
}

fn parse_forward(text: &str) -> Result<crate::serve::forward::Target, Invalid> {
    crate::serve::forward::Target::parse(text)
}

fn parse_serve_format(text: &str) -> Result<Format, Invalid> {
    match Format::parse(text)? {
        Format::Json => {
            Err("-o json (one array) never ends in serve: use jsonl (one event a line)".into())
        }
        format => Ok(format),
    }
}

/// `auditq serve` as a configuration.
#[derive(Debug)]
pub struct ServeConfig {
    pub settings: Settings,
    pub expr: query::Expr,
    pub format: Format,
    pub print_kubeconfig: Option<String>,
}

impl ServeConfig {
    pub fn from_args(args: &ServeArgs, presets: &Presets) -> Result<ServeConfig, Error> {
        let mut parts = args.query_flag.clone();
        parts.extend(args.query.iter().cloned());
        let expr = query::parse_query_with(&parts, presets)?;
        if args.tls_cert.is_none() && !args.insecure_listen && !args.listen.ip().is_loopback() {
            return Err(Error::Usage(format!(
                "serve: without TLS only a loopback address is allowed, not {} (give --tls-cert and --tls-key, or --insecure-listen)",
                args.listen
            )));
        }
        let tls = match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                client_ca: args.client_ca.clone(),
            }),
            _ => None,
        };
        let settings = Settings {
            listen: args.listen,
            paths: args.path.clone(),
            out: args.out.clone(),
            rotation: Rotation {
                max_size: args.max_size.map(|mb| mb.saturating_mul(MEGABYTE)),
                max_backups: args.max_backups.unwrap_or(0),
                max_age_days: args.max_age,
                compress: args.compress,
            },
            fsync: args.fsync,
            tls,
            token_file: args.token_file.clone(),
            max_body: args.max_body,
            queue: args.queue as usize,
            retry_after: args.retry_after,
            forward: args.forward.clone(),
            forward_tls: ForwardTls {
                ca: args.forward_ca.clone(),
                cert: args.forward_cert.clone(),
                key: args.forward_key.clone(),
            },
            max_connections: args.max_connections as usize,
            log_format: args.log_format,
        };
        if settings.forward_tls != ForwardTls::default()
            && !settings.forward.iter().any(|t| t.is_https())
        {
            return Err(Error::Usage(
                "serve: --forward-ca, --forward-cert and --forward-key are for https:// --forward targets, and every --forward is http://".into(),
            ));
        }
        if !settings.forward.is_empty() && args.output.as_ref().is_some_and(|f| *f != Format::Jsonl)
        {
            return Err(Error::Usage(
                "serve: --forward sends events as JSON: use it with -o jsonl".into(),
            ));
        }
        Ok(ServeConfig {
            settings,
            expr,
            format: args.output.clone().unwrap_or(Format::Jsonl),
            print_kubeconfig: args.print_kubeconfig.clone(),
        })
    }
}

/// The webhook kubeconfig kube-apiserver reads with `--audit-webhook-config-file`.
pub fn kubeconfig(url: &str) -> String {
    format!(
        "# kube-apiserver --audit-webhook-config-file: where to send audit batches.\n\
         # Fill in the paths (as seen inside the apiserver's pod: mount them).\n\
         apiVersion: v1\n\
         kind: Config\n\
         clusters:\n\
         - name: auditq\n  \
           cluster:\n    \
             server: {url}\n    \
             certificate-authority: /etc/kubernetes/auditq/ca.crt\n\
         users:\n\
         - name: kube-apiserver\n  \
           user:\n    \
             client-certificate: /etc/kubernetes/auditq/client.crt\n    \
             client-key: /etc/kubernetes/auditq/client.key\n\
         contexts:\n\
         - name: default\n  \
           context:\n    \
             cluster: auditq\n    \
             user: kube-apiserver\n\
         current-context: default\n"
    )
}

/// The engine of `auditq serve`: items of `api_version` lists get that `kind` and
/// `apiVersion`.
fn engine(config: &ServeConfig, api_version: &str) -> Engine {
    Engine::new(config.expr.clone())
        .output_as(Output::Events(config.format.clone()))
        .fill_kind(api_version)
        // Every item is parsed: whether a batch is answered 200 or 400, and the events
        // it is said to hold, never depend on the query.
        .prefilter(false)
        // A batch is one line: as long as a body may be.
        .max_line_bytes(
            config
                .settings
                .max_body
                .max(crate::limits::DEFAULT_MAX_LINE_BYTES),
        )
}

/// Runs `auditq serve` until SIGTERM/SIGINT; returns the exit code.
pub fn run(config: &ServeConfig) -> Result<i32, Error> {
    if let Some(url) = &config.print_kubeconfig {
        let mut out = io::stdout().lock();
        out.write_all(kubeconfig(url).as_bytes())
            .and_then(|()| out.flush())
            .map_err(Error::Output)?;
        return Ok(super::EXIT_MATCH);
    }
    let v1 = engine(config, "audit.k8s.io/v1");
    let plans = Plans {
        v1: Arc::new(v1.plan()),
        v1beta1: Arc::new(engine(config, "audit.k8s.io/v1beta1").plan()),
    };
    let settings = &config.settings;
    let out: Box<dyn Write> = match &settings.out {
        Some(path) => Box::new(
            RotatingFile::open(path, settings.rotation.clone(), settings.fsync)
                .map_err(|e| Error::Other(format!("cannot open {}: {e}", path.display())))?,
        ),
        None => Box::new(io::BufWriter::with_capacity(256 * 1024, io::stdout())),
    };
    let mut sink = v1.sink(&plans.v1, out);
    match serve::run(settings, &plans, sink.as_mut())? {
        serve::Ending::Signal => {
            sink.finish(&Totals::default()).map_err(Error::Output)?;
            Ok(super::EXIT_MATCH)
        }
        // Logged once when it happened; like grep, an error is 2.
        serve::Ending::OutputClosed => Ok(super::EXIT_ERROR),
    }
}
