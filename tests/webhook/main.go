// The real sender for tests/it/serve.rs: kube-apiserver's audit webhook backend
// (k8s.io/apiserver plugin/pkg/audit/webhook), configured from a webhook kubeconfig and
// wrapped as kube-apiserver wraps it for --audit-webhook-config-file
// (pkg/server/options/audit.go: buffered.NewBackend in batch mode, errors ignored in
// blocking mode), with the default batch settings and a short initial backoff.
//
// Events are read as JSON lines (audit.k8s.io/v1) from -events, or generated (-generate
// N: auditIDs gen-0 … gen-N-1), and handed to the backend one ProcessEvents call each,
// -pace apart; then the backend is shut down (which sends what is buffered). It prints
// "sent N" when done.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/json"
	auditinternal "k8s.io/apiserver/pkg/apis/audit"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	"k8s.io/apiserver/pkg/audit"
	webhookutil "k8s.io/apiserver/pkg/util/webhook"
	pluginbuffered "k8s.io/apiserver/plugin/pkg/audit/buffered"
	pluginwebhook "k8s.io/apiserver/plugin/pkg/audit/webhook"
)

// ignoreErrors is kube-apiserver's ignoreErrorsBackend (--audit-webhook-mode=blocking).
type ignoreErrors struct{ audit.Backend }

func (b *ignoreErrors) ProcessEvents(ev ...*auditinternal.Event) bool {
	b.Backend.ProcessEvents(ev...)
	return true
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "webhook kubeconfig (--audit-webhook-config-file)")
	mode := flag.String("mode", "batch", "batch or blocking (--audit-webhook-mode)")
	backoff := flag.Duration("initial-backoff", 500*time.Millisecond, "--audit-webhook-initial-backoff")
	eventsFile := flag.String("events", "", "JSON lines of audit.k8s.io/v1 events")
	generate := flag.Int("generate", 0, "generate this many events")
	pace := flag.Duration("pace", 0, "pause between events")
	maxWait := flag.Duration("batch-max-wait", time.Second, "--audit-webhook-batch-max-wait")
	flag.Parse()

	webhook, err := pluginwebhook.NewBackend(*kubeconfig, auditv1.SchemeGroupVersion,
		webhookutil.DefaultRetryBackoffWithInitialDelay(*backoff), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "webhook:", err)
		os.Exit(2)
	}
	var backend audit.Backend
	switch *mode {
	case "batch":
		// pkg/server/options/audit.go defaultWebhookBatchConfig (the flags' defaults),
		// but a shorter wait so that a test does not wait 30 s for a partial batch.
		config := pluginbuffered.BatchConfig{
			BufferSize:     10000,
			MaxBatchSize:   400,
			MaxBatchWait:   *maxWait,
			ThrottleEnable: true,
			ThrottleQPS:    10,
			ThrottleBurst:  15,
			AsyncDelegate:  true,
		}
		backend = pluginbuffered.NewBackend(webhook, config)
	case "blocking":
		backend = &ignoreErrors{webhook}
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", *mode)
		os.Exit(2)
	}
	stop := make(chan struct{})
	if err := backend.Run(stop); err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		os.Exit(2)
	}

	sent := 0
	send := func(ev *auditinternal.Event) {
		backend.ProcessEvents(ev)
		sent++
		if *pace > 0 {
			time.Sleep(*pace)
		}
	}
	if *eventsFile != "" {
		f, err := os.Open(*eventsFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		scanner := bufio.NewScanner(f)
		scanner.Buffer(make([]byte, 1<<20), 64<<20)
		for scanner.Scan() {
			var v1 auditv1.Event
			if err := json.Unmarshal(scanner.Bytes(), &v1); err != nil {
				// Not an event the apiserver could have made (e.g. a time in another
				// layout): say which, so the test does not expect it.
				var id struct {
					AuditID string `json:"auditID"`
					Stage   string `json:"stage"`
				}
				_ = json.Unmarshal(scanner.Bytes(), &id)
				fmt.Println("skip", id.AuditID, id.Stage)
				continue
			}
			var ev auditinternal.Event
			if err := audit.Scheme.Convert(&v1, &ev, nil); err != nil {
				fmt.Fprintln(os.Stderr, "convert:", err)
				os.Exit(2)
			}
			send(&ev)
		}
	}
	now := time.Now()
	for i := 0; i < *generate; i++ {
		send(&auditinternal.Event{
			Level:                    auditinternal.LevelMetadata,
			AuditID:                  types.UID(fmt.Sprintf("gen-%d", i)),
			Stage:                    auditinternal.StageResponseComplete,
			RequestURI:               "/api/v1/namespaces/default/pods",
			Verb:                     []string{"get", "list", "create", "delete"}[i%4],
			User:                     authnv1.UserInfo{Username: "system:serviceaccount:default:driver"},
			SourceIPs:                []string{"10.0.0.1"},
			UserAgent:                "driver/v1",
			ObjectRef:                &auditinternal.ObjectReference{Resource: "pods", Namespace: "default", APIVersion: "v1"},
			RequestReceivedTimestamp: metav1.NewMicroTime(now),
			StageTimestamp:           metav1.NewMicroTime(now),
		})
	}
	// Shutdown sends what is buffered and waits for it (kube-apiserver does the same).
	close(stop)
	backend.Shutdown()
	fmt.Println("sent", sent)
}
