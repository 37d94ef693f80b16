package gray

// Buckets is the number of user-hash buckets: a percentage has 0.01% steps.
const Buckets = 10000

// Bucket returns the user-hash bucket of id under salt, in [0, [Buckets]).
//
// The function is part of duohuo's contract: every gateway, in every cloud,
// in every release, must put a user in the same bucket, or users would flip
// between versions. It is therefore spelled out so that any language can
// reproduce it, and pinned by golden tests:
//
//	h := FNV-1a 64 over the bytes of salt, one 0x00 byte, the bytes of id
//	h = MurmurHash3 fmix64(h)   // FNV's low bits are weak; this mixes them
//	bucket = h mod 10000
//
// It uses no per-process seed (unlike hash/maphash), does not allocate and
// is safe for concurrent use.
func Bucket(salt, id string) uint32 {
	const (
		offset64 = 14695981039346656037
		prime64  = 1099511628211
	)
	h := uint64(offset64)
	for i := 0; i < len(salt); i++ {
		h ^= uint64(salt[i])
		h *= prime64
	}
	h ^= 0 // the separator byte, so that ("ab","c") and ("a","bc") differ
	h *= prime64
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= prime64
	}
	// fmix64 from MurmurHash3 (Austin Appleby, public domain).
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return uint32(h % Buckets)
}

// percentBuckets converts a percentage in 0.01 steps to a bucket count.
func percentBuckets(p float64) (uint32, bool) {
	if !(p >= 0 && p <= 100) { // also refuses NaN
		return 0, false
	}
	x := p * 100
	n := uint32(x + 0.5)
	if d := x - float64(n); d > 1e-6 || d < -1e-6 {
		return 0, false
	}
	return n, true
}
