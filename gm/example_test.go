package gm_test

import (
	"fmt"

	"github.com/duohuo/duohuo/gm"
)

func Example() {
	fmt.Printf("%x\n", gm.SM3([]byte("abc")))

	key := []byte("0123456789abcdef") // 16 bytes
	sealed, _ := gm.SealSM4GCM(key, []byte("db password"), []byte("config/db"))
	plain, err := gm.OpenSM4GCM(key, sealed, []byte("config/db"))
	fmt.Println(string(plain), err)
	_, err = gm.OpenSM4GCM(key, sealed, []byte("config/cache"))
	fmt.Println(err)

	priv, _ := gm.GenerateKey()
	sig, _ := priv.Sign([]byte("hello"))
	fmt.Println(priv.Public().Verify([]byte("hello"), sig))
	// Output:
	// 66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0
	// db password <nil>
	// gm: sm4-gcm: message authentication failed
	// true
}

func ExampleKeyRing() {
	// Key 1 is retired, key 2 (the highest id) is active.
	ring, err := gm.ParseKeyRing(`
1:000102030405060708090a0b0c0d0e0f
2:f0e0d0c0b0a090807060504030201000
`)
	if err != nil {
		fmt.Println(err)
		return
	}
	sealed, _ := ring.Seal(nil, []byte("card 6222 0000"), []byte("objects/payments"))
	id, _ := gm.SealedKeyID(sealed)
	fmt.Println("sealed with key", id, "stale:", ring.Stale(sealed))

	plain, err := ring.Open(nil, sealed, []byte("objects/payments"))
	fmt.Printf("%s %v\n", plain, err)
	_, err = ring.Open(nil, sealed, []byte("objects/orders")) // moved elsewhere
	fmt.Println(err)
	// Output:
	// sealed with key 2 stale: false
	// card 6222 0000 <nil>
	// gm: sm4-gcm: message authentication failed
}
