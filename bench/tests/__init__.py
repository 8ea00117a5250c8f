"""The benchmarks' own tests (argument checks, how rates are read): run by `make test` and `make test-unit`
next to tests/, which never import bench/."""
