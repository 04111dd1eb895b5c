//go:build !linux

package udphost

import "syscall"

func testProcAttr() *syscall.SysProcAttr { return nil }
