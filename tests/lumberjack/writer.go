// Command writer emits realistic audit.k8s.io/v1 events through
// gopkg.in/natefinch/lumberjack.v2, one Write per event like kube-apiserver
// (json.Encoder.Encode: the line ends in '\n').
//
// Build (GOPATH mode, Debian's golang-gopkg-natefinch-lumberjack.v2-dev):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o writer tests/lumberjack/writer.go
//
// The sequence number appears in auditID (last 12 digits) and in
// objectRef.name ("obj-<seq>"); seq % 10 == 0 events have verb "create",
// the others never do. With -oversize-every N, events with seq % N == 0
// exceed MaxSize and are dropped by lumberjack. stageTimestamp is the write time (RFC3339Nano), for
// latency measurements.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"gopkg.in/natefinch/lumberjack.v2"
)

type objectRef struct {
	Resource   string `json:"resource"`
	Namespace  string `json:"namespace"`
	Name       string `json:"name"`
	APIVersion string `json:"apiVersion"`
}

type user struct {
	Username string   `json:"username"`
	Groups   []string `json:"groups"`
}

type event struct {
	Kind                     string            `json:"kind"`
	APIVersion               string            `json:"apiVersion"`
	Level                    string            `json:"level"`
	AuditID                  string            `json:"auditID"`
	Stage                    string            `json:"stage"`
	RequestURI               string            `json:"requestURI"`
	Verb                     string            `json:"verb"`
	User                     user              `json:"user"`
	SourceIPs                []string          `json:"sourceIPs"`
	UserAgent                string            `json:"userAgent"`
	ObjectRef                objectRef         `json:"objectRef"`
	ResponseStatus           map[string]int    `json:"responseStatus"`
	RequestReceivedTimestamp string            `json:"requestReceivedTimestamp"`
	StageTimestamp           string            `json:"stageTimestamp"`
	Annotations              map[string]string `json:"annotations"`
}

var verbs = []string{"create", "get", "list", "watch", "update", "patch", "delete", "get", "list", "get"}

func main() {
	path := flag.String("path", "audit.log", "log file")
	count := flag.Int("count", 1000, "events to write")
	maxsize := flag.Int("maxsize", 1, "lumberjack MaxSize (MiB)")
	backups := flag.Int("backups", 3, "lumberjack MaxBackups")
	compress := flag.Bool("compress", false, "gzip backups")
	rate := flag.Float64("rate", 0, "events per second (0 = as fast as possible)")
	size := flag.Int("size", 1000, "approximate bytes per event")
	start := flag.Int("start", 0, "first sequence number")
	oversize := flag.Int("oversize-every", 0, "make every Nth event larger than maxsize (lumberjack refuses it; the error is ignored like --audit-log-mode=blocking does)")
	batch := flag.Int("batch", 1, "events per Write (1 = like kube-apiserver; more only to measure how fast the follower can go)")
	flag.Parse()

	lj := &lumberjack.Logger{Filename: *path, MaxSize: *maxsize, MaxBackups: *backups, Compress: *compress}
	defer lj.Close()
	begin := time.Now()
	pad := ""
	var pending []byte
	inBatch := 0
	for i := 0; i < *count; i++ {
		seq := *start + i
		if *rate > 0 {
			due := begin.Add(time.Duration(float64(i) / *rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
		}
		now := time.Now().UTC()
		ev := makeEvent(seq, now, pad)
		line, err := json.Marshal(ev)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if pad == "" && len(line) < *size {
			pad = strings.Repeat("x", *size-len(line))
			ev = makeEvent(seq, now, pad)
			line, _ = json.Marshal(ev)
		}
		big := *oversize > 0 && seq%*oversize == 0
		if big {
			ev = makeEvent(seq, now, strings.Repeat("y", *maxsize<<20))
			line, _ = json.Marshal(ev)
		}
		line = append(line, '\n')
		if *batch > 1 {
			pending = append(pending, line...)
			inBatch++
			if inBatch < *batch && i+1 < *count {
				continue
			}
			line, pending, inBatch = pending, nil, 0
		}
		if _, err := lj.Write(line); err != nil && !big {
			fmt.Fprintln(os.Stderr, "write:", err)
			os.Exit(1)
		}
	}
	// Give mill a moment to finish compressing (it runs in a goroutine).
	time.Sleep(300 * time.Millisecond)
	w := bufio.NewWriter(os.Stderr)
	fmt.Fprintf(w, "wrote %d events\n", *count)
	w.Flush()
}

func makeEvent(seq int, now time.Time, pad string) event {
	ann := map[string]string{"authorization.k8s.io/decision": "allow"}
	if pad != "" {
		ann["pad"] = pad
	}
	name := fmt.Sprintf("obj-%d", seq)
	return event{
		Kind:                     "Event",
		APIVersion:               "audit.k8s.io/v1",
		Level:                    "Metadata",
		AuditID:                  fmt.Sprintf("00000000-0000-4000-8000-%012d", seq),
		Stage:                    "ResponseComplete",
		RequestURI:               "/api/v1/namespaces/default/configmaps/" + name,
		Verb:                     verbs[seq%10],
		User:                     user{Username: "system:serviceaccount:default:writer", Groups: []string{"system:serviceaccounts", "system:authenticated"}},
		SourceIPs:                []string{"10.0.0.7"},
		UserAgent:                "writer/v1.0 (linux/amd64)",
		ObjectRef:                objectRef{Resource: "configmaps", Namespace: "default", Name: name, APIVersion: "v1"},
		ResponseStatus:           map[string]int{"code": 200},
		RequestReceivedTimestamp: now.Format(time.RFC3339Nano),
		StageTimestamp:           now.Format(time.RFC3339Nano),
		Annotations:              ann,
	}
}
