// etcd, as the etcd server binary: go.etcd.io/etcd/server/v3/etcdmain is what etcd's
// own main package calls.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
