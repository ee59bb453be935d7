//! `auditq sql`: its options; the compiler is [`crate::sql`].

use super::args::{FieldList, TimeArgs};
use super::{EXIT_MATCH, Env};
use crate::error::Error;
use crate::query;
use crate::sql::{self, Dialect, Output};
use std::io::{self, Write};

/// `auditq sql`: print the SQL statement that returns, from the table `auditq export`
/// writes, the events (or counts) this query finds in the raw logs.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct SqlArgs {
    /// The query (several parts are joined with AND, as in a search).
    #[arg(value_name = "QUERY")]
    pub query: Vec<String>,

    /// Query text (repeatable; joined with AND).
    #[arg(short = 'e', long = "query", value_name = "TEXT")]
    pub query_text: Vec<String>,

    /// The engine to write SQL for.
    #[arg(long, value_enum, value_name = "ENGINE")]
    pub dialect: Dialect,

    /// The table: a name, or any table expression the engine takes, e.g. DuckDB's
    /// "read_parquet('/data/audit/**/*.parquet', hive_partitioning = true)".
    #[arg(long, value_name = "TABLE", default_value = "audit")]
    pub table: String,

    /// Count the matching events (one row, one column: count).
    #[arg(short, long, conflicts_with_all = ["count_by", "condition"])]
    pub count: bool,

    /// Count matching events per value of FIELD[,FIELD…] (columns k1, k2, …, count; most
    /// frequent first).
    #[arg(long, value_name = "FIELDS", value_parser = super::args::parse_fields, conflicts_with = "condition")]
    pub count_by: Option<FieldList>,

    /// Print only the boolean condition (to put in a WHERE clause of your own).
    #[arg(long = "where", conflicts_with = "table")]
    pub condition: bool,

    #[command(flatten)]
    pub time: TimeArgs,
}

/// Runs `auditq sql …`; prints the statement.
pub fn run(args: SqlArgs, env: &Env) -> Result<i32, Error> {
    let (presets, _) = env.presets_file.load()?;
    let parts: Vec<String> = args.query_text.iter().chain(&args.query).cloned().collect();
    // Each part on its own first, so a refusal points into the part it is in.
    for part in &parts {
        let expr = query::parse_query_with(std::slice::from_ref(part), &presets)?;
        sql::condition(&expr, args.dialect).map_err(|mut e| {
            e.query = part.clone();
            e
        })?;
    }
    let expr = super::config::build_expr(&parts, &args.time, &presets)?;
    for hint in query::hints::case_hints(&expr) {
        eprintln!("{}", crate::report::warning_line(&hint));
    }
    let text = if args.condition {
        sql::condition(&expr, args.dialect)?
    } else {
        let output = match (&args.count_by, args.count) {
            (Some(fields), _) => Output::CountBy(fields.0.clone()),
            (None, true) => Output::Count,
            (None, false) => Output::Events,
        };
        sql::statement(&expr, args.dialect, &args.table, &output)?
    };
    let mut out = io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(Error::Output)?;
    Ok(EXIT_MATCH)
}
