package main

import (
	_ "k8s.io/apiserver/pkg/audit/policy"
)

func main() {}
