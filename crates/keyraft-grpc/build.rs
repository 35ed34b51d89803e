fn main() -> Result<(), Box<dyn std::error::Error>> {
    // protoc comes vendored, so a fresh machine needs nothing installed.
    std::env::set_var("PROTOC", protoc_bin_vendored::protoc_bin_path()?);
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../proto");
    let protos = [format!("{root}/keyraft/kms/v1/kms.proto")];
    tonic_build::configure().compile_protos(&protos, &[root.to_string()])?;
    for p in &protos {
        println!("cargo:rerun-if-changed={p}");
    }
    Ok(())
}
