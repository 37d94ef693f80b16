// Package helm holds the tests of the duohuo Helm chart (deploy/helm/duohuo):
// helm lint, and helm template whose manifests are checked and whose
// rendered configuration must pass duohuo's own validation, and a
// server-side dry run of every object against a real kube-apiserver
// (internal/kubetest; skipped without one). Helm is pinned
// by deploy/helm/tools/go.mod; DUOHUO_HELM names a helm binary built from
// it, else the tests build one, once per run.
package helm
