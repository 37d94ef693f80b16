//go:build !purego

package gm_test

// purego is unset without the purego build tag: gmsm's SM4-GCM is its
// assembly, which allocates nothing.
const purego = false
