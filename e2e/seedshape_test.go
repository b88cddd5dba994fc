package e2e

import (
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"strings"
	"testing"
)

// The controller (a module of its own, which cannot import this one) and
// the harness exchange the account and the instances as JSON: each side
// declares the shape, and the two must agree field by field.
func TestControllerAndHarnessAgreeOnTheFilesTheyExchange(t *testing.T) {
	for _, c := range []struct{ controller, harness string }{
		{"Seed", "controllerSeed"},
		{"Instance", "Instance"},
		{"CapacityPool", "CapacityPool"},
		{"QueueMessage", "QueueMessage"},
		{"ImpairedInstance", "ImpairedInstance"},
		{"Reclaim", "Reclaim"},
	} {
		want := jsonFields(t, "controller", c.controller)
		got := jsonFields(t, "harness", c.harness)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("e2e/harness %s has fields %v, e2e/controller %s has %v", c.harness, got, c.controller, want)
		}
	}
}

// jsonFields are a struct's JSON names with their Go types, as written.
func jsonFields(t *testing.T, dir, name string) map[string]string {
	t.Helper()
	pkgs, err := parser.ParseDir(token.NewFileSet(), dir, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for _, pkg := range pkgs {
		for _, f := range pkg.Files {
			ast.Inspect(f, func(n ast.Node) bool {
				spec, ok := n.(*ast.TypeSpec)
				if !ok || spec.Name.Name != name {
					return true
				}
				for _, field := range spec.Type.(*ast.StructType).Fields.List {
					if field.Tag == nil {
						continue
					}
					tag := reflect.StructTag(strings.Trim(field.Tag.Value, "`")).Get("json")
					fields[strings.Split(tag, ",")[0]] = types(field.Type)
				}
				return false
			})
		}
	}
	if len(fields) == 0 {
		t.Fatalf("no struct %s with JSON fields in %s", name, dir)
	}
	return fields
}

func types(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return types(e.X) + "." + e.Sel.Name
	case *ast.ArrayType:
		return "[]" + types(e.Elt)
	case *ast.MapType:
		return "map[" + types(e.Key) + "]" + types(e.Value)
	case *ast.StarExpr:
		return "*" + types(e.X)
	}
	return "?"
}

// The harness tells the controller how long repair tolerates a condition
// through an environment variable both name.
func TestControllerAndHarnessNameTheRepairTolerationAlike(t *testing.T) {
	value := func(dir, name string) string {
		pkgs, err := parser.ParseDir(token.NewFileSet(), dir, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		var found string
		for _, pkg := range pkgs {
			for _, f := range pkg.Files {
				ast.Inspect(f, func(n ast.Node) bool {
					if spec, ok := n.(*ast.ValueSpec); ok {
						for i, id := range spec.Names {
							if i >= len(spec.Values) || id.Name != name {
								continue
							}
							if lit, isLit := spec.Values[i].(*ast.BasicLit); isLit {
								found = strings.Trim(lit.Value, `"`)
							}
						}
					}
					return true
				})
			}
		}
		if found == "" {
			t.Fatalf("no constant %s in %s", name, dir)
		}
		return found
	}
	if c, h := value("controller", "RepairTolerationEnv"), value("harness", "repairTolerationEnv"); c != h {
		t.Errorf("the controller reads %s, the harness sets %s", c, h)
	}
}
