package etcdlock

import (
	"context"
	"fmt"
	"strconv"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/duohuo/duohuo/lock"
)

// Fence is a fence kept in etcd: Key stores the highest token admitted, and
// Txn runs the caller's operations only if the caller's token is not lower,
// in one transaction, so the check and the access cannot be separated by a
// pause. It fences data that lives in etcd but is not the lock itself (for a
// write guarded by the lock key itself, see [Held.IsOwner]).
//
// As with [lock.Fence], run reads under the lock through Txn too, so that a
// new holder's first read raises the fence before a stale holder can write.
//
// The zero value is not usable: KV and Key must be set. A Fence is a value
// and safe for concurrent use.
type Fence struct {
	// KV is where the fence and the protected data live (a *clientv3.Client).
	KV clientv3.KV
	// Key is the etcd key that stores the highest admitted token.
	Key string
}

// tokenWidth makes tokens compare as strings in the same order as numbers:
// etcd compares values byte-wise, and an int64 has at most 19 digits.
const tokenWidth = 20

func encodeToken(t lock.Token) string { return fmt.Sprintf("%0*d", tokenWidth, int64(t)) }

// Txn admits token and runs ops in the same transaction. If a higher token
// was admitted before, nothing runs and the error wraps [lock.ErrStaleToken]
// naming both tokens. On success the response's Responses[1:] are the
// results of ops (Responses[0] is the fence update).
func (f Fence) Txn(ctx context.Context, token lock.Token, ops ...clientv3.Op) (*clientv3.TxnResponse, error) {
	if token <= 0 {
		return nil, fmt.Errorf("fence %q: token %d: not a granted token: %w", f.Key, token, lock.ErrStaleToken)
	}
	enc := encodeToken(token)
	// A value compare on a missing key is false, so the first token ever
	// seen takes the Else branch and is admitted.
	then := append([]clientv3.Op{clientv3.OpPut(f.Key, enc)}, ops...)
	resp, err := f.KV.Txn(ctx).
		If(clientv3.Compare(clientv3.Value(f.Key), ">", enc)).
		Then(clientv3.OpGet(f.Key)).
		Else(then...).
		Commit()
	if err != nil {
		return nil, fmt.Errorf("fence %q: %w", f.Key, err)
	}
	if resp.Succeeded {
		seen := "?"
		if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) == 1 {
			if n, err := strconv.ParseInt(string(kvs[0].Value), 10, 64); err == nil {
				seen = strconv.FormatInt(n, 10)
			}
		}
		return nil, fmt.Errorf("fence %q: token %d, fence has seen %s: %w", f.Key, token, seen, lock.ErrStaleToken)
	}
	return resp, nil
}
