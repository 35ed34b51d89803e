fn main() -> Result<(), Box<dyn std::error::Error>> {
    // protoc comes vendored, so a fresh machine needs nothing installed.
    std::env::set_var("PROTOC", protoc_bin_vendored::protoc_bin_path()?);
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../proto");
    tonic_build::configure().compile_protos(&[format!("{root}/keyraft/raft/v1/raft.proto")], &[root.to_string()])?;
    println!("cargo:rerun-if-changed={root}/keyraft/raft/v1/raft.proto");
    Ok(())
}
