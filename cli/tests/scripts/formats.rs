//! The output formats, the command-line data flags, `connection.queries`, the shell and
//! `quiver explain`.

use crate::support::{examples, quiver, run_source};

const SHOP: &str = "\
from decimal import Decimal
from django.db import connection, models, reset_queries

class Customer(models.Model):
    name = models.CharField(max_length=20)
    region = models.CharField(max_length=5, null=True)

class Order(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE)
    amount = models.DecimalField(max_digits=8, decimal_places=2)

";

#[test]
fn table_format_prints_python_text_and_querysets_as_tables() {
    let source = format!(
        "{SHOP}ann = Customer.objects.create(name='Ann', region='EU')\n\
print(ann, {{'a': (1, 2.5, None)}}, Decimal('1.50'))\n\
print(Customer.objects.values('name', 'region'))\n\
print(f'{{ann.name!r:>6}}|{{3.14159:.2f}}|{{1234567:,}}')\n"
    );
    let out = run_source(&source, "table", &[]);
    assert!(out.success, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "Customer object (1) {'a': (1, 2.5, None)} 1.50\n\
+------+--------+\n| name | region |\n+------+--------+\n| Ann  | EU     |\n+------+--------+\n(1 row)\n 'Ann'|3.14|1,234,567\n"
    );
}

#[test]
fn csv_format_writes_rows_with_a_header() {
    let source = format!(
        "{SHOP}Customer.objects.create(name='Ann')\nCustomer.objects.create(name='B,b', region='US')\n\
print(Customer.objects.values_list('name', 'region'))\nprint(Customer.objects.values('id', 'region'))\n"
    );
    let out = run_source(&source, "csv", &[]);
    assert!(out.success, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "name,region\nAnn,\n\"B,b\",US\nid,region\n1,\n2,US\n"
    );
}

#[test]
fn data_flags_load_before_the_first_query() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let customers = dir.path().join("customers.csv");
    std::fs::write(&customers, "name,region\nAnn,EU\nBob,\n").expect("written");
    let orders = dir.path().join("orders.json");
    std::fs::write(
        &orders,
        "[{\"customer\": 1, \"amount\": \"10.50\"}, {\"customer\": 2, \"amount\": 4}]",
    )
    .expect("written");
    let source = format!("{SHOP}print(Customer.objects.filter(region=None).count(), Order.objects.values_list('amount', flat=True))\n");
    let csv = format!("Customer={}", customers.display());
    let json = format!("Order={}", orders.display());
    let out = run_source(&source, "json", &["--csv", &csv, "--json", &json]);
    assert!(out.success, "{}", out.stderr);
    assert_eq!(out.stdout, "[1,[10.50,4.00]]\n");
}

#[test]
fn attribute_access_runs_one_query_and_the_log_shows_it() {
    let source = format!(
        "{SHOP}ann = Customer.objects.create(name='Ann')\n\
Order.objects.create(customer=ann, amount=Decimal('2'))\n\
reset_queries()\n\
again = Order.objects.create(customer=ann, amount=Decimal('3'))\n\
print(again.customer.name, len(connection.queries))\n\
reset_queries()\n\
order = Order.objects.get(pk=1)\n\
print(order.customer.name, order.customer.name, len(connection.queries))\n\
print(connection.queries[1]['sql'])\n\
qs = Order.objects.all()\n\
reset_queries()\n\
print(len(qs), qs.count(), qs.exists(), Order.objects.count(), len(connection.queries))\n"
    );
    let out = run_source(&source, "json", &[]);
    assert!(out.success, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    // Only the INSERT is logged, as in Django: create() keeps the related object.
    assert_eq!(lines[0], "[\"Ann\",1]", "create() keeps the related object");
    assert_eq!(lines[1], "[\"Ann\",\"Ann\",2]");
    assert!(lines[2].starts_with("\"SELECT"), "{}", lines[2]);
    assert!(lines[2].contains("\\\"customer\\\""), "{}", lines[2]);
    assert_eq!(
        lines[3], "[2,2,true,2,2]",
        "count()/exists() reuse an evaluated QuerySet"
    );
}

#[test]
fn explain_prints_the_plans_of_printed_querysets() {
    let script = examples().join("orders.py");
    let out = quiver(&["explain", &script.to_string_lossy()], "");
    assert!(out.success, "{}", out.stderr);
    assert!(out.stdout.starts_with("-- SELECT"), "{}", out.stdout);
    assert!(
        out.stdout.contains("Physical plan") || out.stdout.contains("physical"),
        "{}",
        out.stdout
    );
}

#[test]
fn shell_echoes_values_and_survives_errors() {
    let input = "from django.db import models\n\
class Tag(models.Model):\n    label = models.CharField(max_length=9)\n\n\
Tag.objects.create(label='x')\n\
1 / 0\n\
Tag.objects.values_list('label', flat=True)\n\
{'n': Tag.objects.count()}\n";
    let out = quiver(&["shell"], input);
    assert!(out.success, "{}", out.stderr);
    assert!(
        out.stdout.contains("<Tag: Tag object (1)>"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("| x     |"), "{}", out.stdout);
    assert!(out.stdout.contains("{'n': 1}"), "{}", out.stdout);
    assert!(
        out.stderr.contains("ZeroDivisionError: division by zero"),
        "{}",
        out.stderr
    );
}

#[test]
fn every_command_has_help_with_examples() {
    for command in ["run", "shell", "explain", "demo"] {
        let out = quiver(&[command, "--help"], "");
        assert!(out.success);
        assert!(
            out.stdout.contains("Examples:"),
            "{command}: {}",
            out.stdout
        );
    }
}

#[test]
fn eager_loading_saves_the_queries_the_log_shows() {
    let source = format!(
        "{SHOP}for name in ['Ann', 'Bob', 'Cy']:\n    c = Customer.objects.create(name=name)\n    Order.objects.create(customer=c, amount=Decimal('1'))\n\
reset_queries()\n\
names = [o.customer.name for o in Order.objects.all()]\n\
lazy = len(connection.queries)\n\
reset_queries()\n\
names2 = [o.customer.name for o in Order.objects.select_related('customer')]\n\
joined = len(connection.queries)\n\
reset_queries()\n\
counts = [len(c.order_set.all()) for c in Customer.objects.prefetch_related('order_set')]\n\
print(names == names2, lazy, joined, counts, len(connection.queries))\n"
    );
    let out = run_source(&source, "json", &[]);
    assert!(out.success, "{}", out.stderr);
    // N+1: one query for the orders and one per order; select_related: one; prefetch: two.
    assert_eq!(out.stdout, "[true,4,1,[1,1,1],2]\n");
}

#[test]
fn a_queries_file_imports_its_models_file() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let models = "from django.db import models\n\nclass Thing(models.Model):\n    n = models.IntegerField()\n";
    std::fs::write(dir.path().join("models.py"), models).expect("written");
    let queries = "from .models import *\nfrom models import Thing\nThing.objects.create(n=3)\nprint(Thing.objects.count())\n";
    let path = dir.path().join("queries.py");
    std::fs::write(&path, queries).expect("written");
    let out = quiver(&["run", &path.to_string_lossy(), "--format", "json"], "");
    assert!(out.success, "{}", out.stderr);
    assert_eq!(out.stdout, "1\n", "models.py runs once");
}

#[test]
fn created_objects_keep_the_values_they_were_given() {
    // Django prints `1 1.00 [Decimal('1'), 'Ann']` (this script with `builtins.print`, run by
    // `django_runner.py --db sqlite`): create() returns the object built from its arguments;
    // the database only gives the key.
    let source = format!(
        "{SHOP}ann = Customer.objects.create(name='Ann')\n\
o = Order.objects.create(customer=ann, amount=Decimal('1'))\n\
print(o.amount, Order.objects.get(pk=o.pk).amount, [o.amount, o.customer.name])\n"
    );
    let out = run_source(&source, "table", &[]);
    assert!(out.success, "{}", out.stderr);
    assert_eq!(out.stdout, "1 1.00 [Decimal('1'), 'Ann']\n");
}
