//go:build purego

package gm_test

// purego is set by the purego build tag (build/crosstest.sh loong64):
// gmsm's SM4-GCM is then Go's generic GCM, which allocates.
const purego = true
