// rbacref is the reference for auditq rbac's tests: Kubernetes' own RBAC rule
// comparison (k8s.io/component-helpers/auth/rbac/validation: Covers, BreakdownRule),
// label selectors (k8s.io/apimachinery LabelSelectorAsSelector) and the API types
// (k8s.io/api/rbac/v1, decoded from YAML by k8s.io/apimachinery's YAML decoder, as
// kubectl reads a file).
//
// Input (stdin): one JSON object per line:
//
//	{"mode": "generated", "objects": "<YAML auditq rbac wrote>", "subject": {...},
//	 "groups": [...], "requests": [...]}
//	{"mode": "compare", "objects": "<cluster RBAC YAML>", "subject": {...},
//	 "groups": [...], "requests": [...]}
//
// Each request is what the audit event says (verb, apiGroup, resource, subresource,
// namespace, name, path); the program derives what the authorizer saw from it. A
// request is allowed by a set of rules when Covers(rules, [the request as one rule]).
//
// Output: one JSON object per line:
//
//	generated: {"notAllowed": [request indexes], "unjustified": ["..."]}
//	  every allowed request must be allowed by the generated roles bound to the subject
//	  (or the default ClusterRoles every authenticated user has); every atomic rule
//	  (BreakdownRule) of a generated role, where it is bound, must be covered by a
//	  request of that scope (a request of a (namespace, verb, resource) used with two
//	  names or more justifies the rule without names, auditq's documented choice).
//	compare: {"allowed": [bool per request], "granted": N, "used": N}
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/component-helpers/auth/rbac/validation"
)

type subject struct {
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
}

type request struct {
	Verb        string `json:"verb"`
	APIGroup    string `json:"apiGroup"`
	Resource    string `json:"resource"`
	Subresource string `json:"subresource"`
	Namespace   string `json:"namespace"`
	Name        string `json:"name"`
	Path        string `json:"path"`
}

type input struct {
	Mode     string    `json:"mode"`
	Objects  string    `json:"objects"`
	Subject  subject   `json:"subject"`
	Groups   []string  `json:"groups"`
	Requests []request `json:"requests"`
}

// The default ClusterRoles bound to system:authenticated (kubernetes
// plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go, v1.28 to v1.37).
var defaultRules = []rbacv1.PolicyRule{
	{Verbs: []string{"get"}, NonResourceURLs: []string{"/livez", "/readyz", "/healthz", "/version", "/version/", "/openapi", "/openapi/*", "/api", "/api/*", "/apis", "/apis/*"}},
	{Verbs: []string{"create"}, APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"selfsubjectaccessreviews", "selfsubjectrulesreviews"}},
	{Verbs: []string{"create"}, APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"selfsubjectreviews"}},
}

// authorizerName is the name the authorizer sees: none for a create of a top-level
// resource (it is in the body), list, watch and deletecollection.
func authorizerName(r request) string {
	switch r.Verb {
	case "create":
		if r.Subresource == "" {
			return ""
		}
	case "list", "watch", "deletecollection":
		return ""
	}
	return r.Name
}

func combined(r request) string {
	if r.Subresource == "" {
		return r.Resource
	}
	return r.Resource + "/" + r.Subresource
}

// asRule is the request as the smallest rule allowing it.
func asRule(r request, withName bool) rbacv1.PolicyRule {
	if r.Resource == "" {
		return rbacv1.PolicyRule{Verbs: []string{r.Verb}, NonResourceURLs: []string{r.Path}}
	}
	rule := rbacv1.PolicyRule{Verbs: []string{r.Verb}, APIGroups: []string{r.APIGroup}, Resources: []string{combined(r)}}
	if n := authorizerName(r); withName && n != "" {
		rule.ResourceNames = []string{n}
	}
	return rule
}

type objects struct {
	clusterRoles map[string]*rbacv1.ClusterRole
	roles        map[string]*rbacv1.Role // ns/name
	crbs         []rbacv1.ClusterRoleBinding
	rbs          []rbacv1.RoleBinding
}

func decode(text string) (*objects, error) {
	o := &objects{clusterRoles: map[string]*rbacv1.ClusterRole{}, roles: map[string]*rbacv1.Role{}}
	d := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader([]byte(text)), 4096)
	var items []json.RawMessage
	for {
		var raw json.RawMessage
		if err := d.Decode(&raw); err == io.EOF {
			break
		} else if err != nil {
			return nil, err
		}
		if len(raw) == 0 || string(raw) == "null" {
			continue
		}
		var list struct {
			Items []json.RawMessage `json:"items"`
		}
		_ = json.Unmarshal(raw, &list)
		if list.Items != nil {
			items = append(items, list.Items...)
		} else {
			items = append(items, raw)
		}
	}
	for _, raw := range items {
		var head metav1.TypeMeta
		if err := json.Unmarshal(raw, &head); err != nil {
			return nil, err
		}
		var err error
		switch head.Kind {
		case "ClusterRole":
			var r rbacv1.ClusterRole
			err = json.Unmarshal(raw, &r)
			o.clusterRoles[r.Name] = &r
		case "Role":
			var r rbacv1.Role
			err = json.Unmarshal(raw, &r)
			o.roles[r.Namespace+"/"+r.Name] = &r
		case "ClusterRoleBinding":
			var b rbacv1.ClusterRoleBinding
			err = json.Unmarshal(raw, &b)
			o.crbs = append(o.crbs, b)
		case "RoleBinding":
			var b rbacv1.RoleBinding
			err = json.Unmarshal(raw, &b)
			o.rbs = append(o.rbs, b)
		}
		if err != nil {
			return nil, err
		}
	}
	return o, nil
}

// aggregate fills aggregated ClusterRoles as the aggregation controller does.
func (o *objects) aggregate() error {
	for pass := 0; pass < 16; pass++ {
		changed := false
		for name, cr := range o.clusterRoles {
			if cr.AggregationRule == nil {
				continue
			}
			for _, sel := range cr.AggregationRule.ClusterRoleSelectors {
				s, err := metav1.LabelSelectorAsSelector(&sel)
				if err != nil {
					return err
				}
				for other, ocr := range o.clusterRoles {
					if other == name || !s.Matches(labels.Set(ocr.Labels)) {
						continue
					}
					for _, r := range ocr.Rules {
						if ok, _ := validation.Covers(cr.Rules, []rbacv1.PolicyRule{r}); !ok {
							cr.Rules = append(cr.Rules, r)
							changed = true
						}
					}
				}
			}
		}
		if !changed {
			break
		}
	}
	return nil
}

// applies is the RBAC authorizer's appliesTo for one binding subject.
func applies(s rbacv1.Subject, bindingNS string, who subject, groups []string) bool {
	switch s.Kind {
	case rbacv1.UserKind:
		return who.Kind == "User" && s.Name == who.Name
	case rbacv1.GroupKind:
		if who.Kind == "Group" {
			return s.Name == who.Name
		}
		for _, g := range groups {
			if g == s.Name {
				return true
			}
		}
	case rbacv1.ServiceAccountKind:
		ns := s.Namespace
		if ns == "" {
			ns = bindingNS
		}
		return ns != "" && who.Kind == "ServiceAccount" && who.Namespace == ns && who.Name == s.Name
	}
	return false
}

// grant is one bound role: its rules and where they apply ("" cluster-wide).
type grant struct {
	name      string
	namespace string
	rules     []rbacv1.PolicyRule
}

func (o *objects) grants(who subject, groups []string) []grant {
	var out []grant
	for _, b := range o.crbs {
		for _, s := range b.Subjects {
			if applies(s, "", who, groups) {
				if cr := o.clusterRoles[b.RoleRef.Name]; cr != nil && b.RoleRef.Kind == "ClusterRole" {
					out = append(out, grant{"ClusterRoleBinding/" + b.Name + " ClusterRole/" + cr.Name, "", cr.Rules})
				}
				break
			}
		}
	}
	for _, b := range o.rbs {
		for _, s := range b.Subjects {
			if applies(s, b.Namespace, who, groups) {
				var rules []rbacv1.PolicyRule
				name := b.RoleRef.Kind + "/" + b.RoleRef.Name
				if b.RoleRef.Kind == "ClusterRole" {
					if cr := o.clusterRoles[b.RoleRef.Name]; cr != nil {
						rules = cr.Rules
					}
				} else if r := o.roles[b.Namespace+"/"+b.RoleRef.Name]; r != nil {
					rules = r.Rules
				}
				out = append(out, grant{"RoleBinding/" + b.Namespace + "/" + b.Name + " " + name, b.Namespace, rules})
				break
			}
		}
	}
	return out
}

func inScope(g grant, r request) bool {
	return g.namespace == "" || (r.Resource != "" && r.Namespace == g.namespace)
}

func allowedBy(gs []grant, r request) bool {
	want := []rbacv1.PolicyRule{asRule(r, true)}
	for _, g := range gs {
		if !inScope(g, r) {
			continue
		}
		if ok, _ := validation.Covers(g.rules, want); ok {
			return true
		}
	}
	return false
}

func checkGenerated(in input, o *objects) map[string]any {
	gs := o.grants(in.Subject, in.Groups)
	notAllowed := []int{}
	for i, r := range in.Requests {
		if ok, _ := validation.Covers(defaultRules, []rbacv1.PolicyRule{asRule(r, true)}); ok {
			continue
		}
		if !allowedBy(gs, r) {
			notAllowed = append(notAllowed, i)
		}
	}
	// Names used per (namespace, verb, resource): two or more justify no names.
	names := map[string]map[string]bool{}
	key := func(r request) string {
		if r.Resource == "" {
			return "\x00" + r.Verb + "\x00" + r.Path
		}
		return r.Namespace + "\x00" + r.Verb + "\x00" + r.APIGroup + "\x00" + combined(r)
	}
	for _, r := range in.Requests {
		k := key(r)
		if names[k] == nil {
			names[k] = map[string]bool{}
		}
		names[k][authorizerName(r)] = true
	}
	unjustified := []string{}
	for _, g := range gs {
		for ri, rule := range g.rules {
			for _, atom := range validation.BreakdownRule(rule) {
				justified := false
				for _, r := range in.Requests {
					if g.namespace == "" && r.Resource != "" && r.Namespace != "" {
						continue // a cluster-wide grant needs a cluster-scope request
					}
					if g.namespace != "" && r.Namespace != g.namespace {
						continue
					}
					ns := names[key(r)]
					withName := len(ns) == 1 && !ns[""]
					if ok, _ := validation.Covers([]rbacv1.PolicyRule{asRule(r, withName)}, []rbacv1.PolicyRule{atom}); ok {
						justified = true
						break
					}
				}
				if !justified {
					unjustified = append(unjustified, fmt.Sprintf("%s rule %d: %s", g.name, ri, atom.String()))
				}
			}
		}
	}
	return map[string]any{"notAllowed": notAllowed, "unjustified": unjustified}
}

func checkCompare(in input, o *objects) map[string]any {
	if err := o.aggregate(); err != nil {
		return map[string]any{"error": err.Error()}
	}
	gs := o.grants(in.Subject, in.Groups)
	allowed := make([]bool, len(in.Requests))
	for i, r := range in.Requests {
		byDefault, _ := validation.Covers(defaultRules, []rbacv1.PolicyRule{asRule(r, true)})
		allowed[i] = byDefault || allowedBy(gs, r)
	}
	granted, used := 0, 0
	for _, g := range gs {
		for _, rule := range g.rules {
			granted++
			for _, r := range in.Requests {
				if !inScope(g, r) {
					continue
				}
				if ok, _ := validation.Covers([]rbacv1.PolicyRule{rule}, []rbacv1.PolicyRule{asRule(r, true)}); ok {
					used++
					break
				}
			}
		}
	}
	return map[string]any{"allowed": allowed, "granted": granted, "used": used}
}

func main() {
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	dec := json.NewDecoder(in)
	enc := json.NewEncoder(out)
	for {
		var line input
		if err := dec.Decode(&line); err == io.EOF {
			break
		} else if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		o, err := decode(line.Objects)
		var result map[string]any
		switch {
		case err != nil:
			result = map[string]any{"error": err.Error()}
		case strings.EqualFold(line.Mode, "compare"):
			result = checkCompare(line, o)
		default:
			result = checkGenerated(line, o)
		}
		_ = enc.Encode(result)
	}
}
