// Command duohuo keeps a service answering when an instance, a zone or a whole
// cloud fails. Run "duohuo --help" for the subcommands.
package main

import "os"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }
