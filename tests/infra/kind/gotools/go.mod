// Small, dependency-free helpers for the offline kind node (tests/infra/kind):
//   runc-capfix  OCI runtime wrapper (drops capabilities missing from the bounding set)
//   pause        pod sandbox process
module pycaret-mlops.local/kind/gotools

go 1.24.0
