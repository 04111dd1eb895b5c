package main

import "syscall"

// sysProcAttr puts a node in a process group of its own and has the kernel
// send it SIGTERM if paxgroup dies, so that no node outlives the launcher.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
