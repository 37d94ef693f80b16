module github.com/duohuo/duohuo/gm/tlcp/interop

go 1.26.0

replace github.com/duohuo/duohuo => ../../..

require (
	github.com/duohuo/duohuo v0.0.0-00010101000000-000000000000
	github.com/emmansun/gmsm v0.44.1
	github.com/tjfoc/gmsm v1.4.1
	go.uber.org/goleak v1.3.0
)

require (
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
