// policyref is the reference for auditq's policy tests: the real kube-apiserver code
// (k8s.io/apiserver pkg/audit/policy) loading policies and evaluating requests.
//
// Input (stdin): one JSON object per line, {"policy": "<YAML text>", "requests": [...]}.
// Output (stdout): one JSON object per line, {"error": "..."} if LoadPolicyFromBytes
// refuses the policy, else {"results": [{"level", "omitStages", "omitManagedFields"}]}.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"io"
	"os"
	"sort"

	auditinternal "k8s.io/apiserver/pkg/apis/audit"
	"k8s.io/apiserver/pkg/audit/policy"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/klog/v2"
)

type request struct {
	User            *string  `json:"user"`
	Groups          []string `json:"groups"`
	Verb            string   `json:"verb"`
	ResourceRequest bool     `json:"resourceRequest"`
	APIGroup        string   `json:"apiGroup"`
	Resource        string   `json:"resource"`
	Subresource     string   `json:"subresource"`
	Namespace       string   `json:"namespace"`
	Name            string   `json:"name"`
	Path            string   `json:"path"`
}

type input struct {
	Policy   string    `json:"policy"`
	Requests []request `json:"requests"`
}

type result struct {
	Level             string   `json:"level"`
	OmitStages        []string `json:"omitStages"`
	OmitManagedFields bool     `json:"omitManagedFields"`
}

type output struct {
	Error   *string  `json:"error,omitempty"`
	Results []result `json:"results,omitempty"`
}

func main() {
	// The lenient fallback's warnings go to klog; keep them off stdout and stderr.
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	_ = fs.Set("logtostderr", "false")
	_ = fs.Set("stderrthreshold", "FATAL")
	klog.SetOutput(io.Discard)

	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	for in.Scan() {
		var c input
		if err := json.Unmarshal(in.Bytes(), &c); err != nil {
			panic(err)
		}
		p, err := policy.LoadPolicyFromBytes([]byte(c.Policy))
		if err != nil {
			msg := err.Error()
			_ = enc.Encode(output{Error: &msg})
			continue
		}
		eval := policy.NewPolicyRuleEvaluator(p)
		o := output{Results: []result{}}
		for _, r := range c.Requests {
			attrs := &authorizer.AttributesRecord{
				Verb:            r.Verb,
				Namespace:       r.Namespace,
				APIGroup:        r.APIGroup,
				Resource:        r.Resource,
				Subresource:     r.Subresource,
				Name:            r.Name,
				ResourceRequest: r.ResourceRequest,
				Path:            r.Path,
			}
			if r.User != nil {
				attrs.User = &user.DefaultInfo{Name: *r.User, Groups: r.Groups}
			}
			cfg := eval.EvaluatePolicyRule(attrs)
			// A set: with no matching rule the apiserver returns the policy's list as
			// written, duplicates included.
			stages := []string{}
			seen := map[string]bool{}
			for _, s := range cfg.OmitStages {
				if !seen[string(s)] {
					seen[string(s)] = true
					stages = append(stages, string(s))
				}
			}
			sort.Strings(stages)
			o.Results = append(o.Results, result{
				Level:             string(cfg.Level),
				OmitStages:        stages,
				OmitManagedFields: cfg.OmitManagedFields,
			})
		}
		_ = enc.Encode(o)
	}
	if err := in.Err(); err != nil {
		panic(err)
	}
	var _ auditinternal.Level
}
