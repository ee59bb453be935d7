//! The `auditq` binary: all logic lives in the library; see `auditq::cli`.

fn main() {
    std::process::exit(auditq::cli::main());
}
