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
