//! Rows into Parquet: Arrow builders for one batch, the schema of docs/scale-out.md, and
//! the writer properties (zstd, dictionary encoding of strings).

use super::Full;
use super::row::{TYPED_FIELDS, TypedValue};
use crate::table::{Shape, TYPED};
use arrow_array::builder::{
    ArrayBuilder, BooleanBuilder, Float64Builder, Int64Builder, ListBuilder, MapBuilder,
    MapFieldNames, StringBuilder, TimestampNanosecondBuilder,
};
use arrow_array::{Array, ArrayRef, ListArray, RecordBatch, StructArray};
use arrow_buffer::OffsetBuffer;
use arrow_schema::{ArrowError, DataType, Field, Fields, Schema};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use std::collections::HashMap;
use std::sync::Arc;

/// Every column, in the order of the table in docs/scale-out.md.
pub const COLUMNS: &[&str] = &[
    "time",
    "time_ns",
    "time_text",
    "stage_timestamp",
    "audit_id",
    "stage",
    "level",
    "verb",
    "user",
    "groups",
    "impersonated_user",
    "impersonated_groups",
    "source_ips",
    "user_agent",
    "request_uri",
    "resource",
    "subresource",
    "resource_path",
    "namespace",
    "name",
    "api_group",
    "api_version",
    "code",
    "decision",
    "reason",
    "annotations",
    "request_object",
    "response_object",
    "complex",
    "leaves",
    "raw",
    "seq",
    "source_file",
    "source_line",
    "cluster",
    "date",
];

/// Columns whose values are (nearly) all different: dictionary encoding only costs there.
const NO_DICTIONARY: &[&str] = &["raw", "request_object", "response_object"];

/// The writer properties: zstd, dictionaries for strings (but [`NO_DICTIONARY`]), row
/// groups cut by the sink (by bytes of data), not by a row count.
pub fn properties() -> WriterProperties {
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_dictionary_enabled(true)
        .set_max_row_group_row_count(None)
        .set_max_row_group_bytes(None)
        .set_created_by(format!("auditq {}", env!("CARGO_PKG_VERSION")));
    for name in NO_DICTIONARY {
        builder = builder.set_column_dictionary_enabled(ColumnPath::from(*name), false);
    }
    builder.build()
}

enum TypedBuilder {
    Text(StringBuilder),
    List(ListBuilder<StringBuilder>),
    Integer(Int64Builder),
}

/// The builders of one batch.
pub struct Columns {
    time: TimestampNanosecondBuilder,
    time_ns: Int64Builder,
    time_text: StringBuilder,
    stage_timestamp: TimestampNanosecondBuilder,
    typed: Vec<TypedBuilder>,
    resource_path: StringBuilder,
    annotations: MapBuilder<StringBuilder, StringBuilder>,
    request_object: StringBuilder,
    response_object: StringBuilder,
    complex: Int64Builder,
    leaf_offsets: Vec<i32>,
    leaf_path: StringBuilder,
    leaf_text: StringBuilder,
    leaf_num: Float64Builder,
    leaf_is_num: BooleanBuilder,
    leaf_ts: Int64Builder,
    raw: StringBuilder,
    seq: Int64Builder,
    source_file: StringBuilder,
    source_line: Int64Builder,
    cluster: StringBuilder,
    date: StringBuilder,
    rows: usize,
}

impl Default for Columns {
    fn default() -> Self {
        Columns::new()
    }
}

impl Columns {
    pub fn new() -> Columns {
        let typed = TYPED
            .iter()
            .filter(|t| t.shape != Shape::Time)
            .map(|t| match t.shape {
                Shape::List => TypedBuilder::List(ListBuilder::new(StringBuilder::new())),
                Shape::Integer | Shape::Time => TypedBuilder::Integer(Int64Builder::new()),
                Shape::Text => TypedBuilder::Text(StringBuilder::new()),
            })
            .collect();
        Columns {
            time: TimestampNanosecondBuilder::new().with_timezone("UTC"),
            time_ns: Int64Builder::new(),
            time_text: StringBuilder::new(),
            stage_timestamp: TimestampNanosecondBuilder::new().with_timezone("UTC"),
            typed,
            resource_path: StringBuilder::new(),
            // The names of the Parquet spec's MAP (`key_value`, `key`, `value`), which
            // engines read as a plain map<string, string>.
            annotations: MapBuilder::new(
                Some(MapFieldNames {
                    entry: "key_value".into(),
                    key: "key".into(),
                    value: "value".into(),
                }),
                StringBuilder::new(),
                StringBuilder::new(),
            ),
            request_object: StringBuilder::new(),
            response_object: StringBuilder::new(),
            complex: Int64Builder::new(),
            leaf_offsets: vec![0],
            leaf_path: StringBuilder::new(),
            leaf_text: StringBuilder::new(),
            leaf_num: Float64Builder::new(),
            leaf_is_num: BooleanBuilder::new(),
            leaf_ts: Int64Builder::new(),
            raw: StringBuilder::new(),
            seq: Int64Builder::new(),
            source_file: StringBuilder::new(),
            source_line: Int64Builder::new(),
            cluster: StringBuilder::new(),
            date: StringBuilder::new(),
            rows: 0,
        }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Appends one row.
    pub fn push(&mut self, row: &Full<'_>) -> Result<(), ArrowError> {
        let v = &row.view;
        self.time.append_option(v.time_ns);
        self.time_ns.append_option(v.time_ns);
        self.time_text.append_option(v.time_text);
        self.stage_timestamp.append_option(v.stage_timestamp);
        for (builder, value) in self.typed.iter_mut().zip(v.typed.iter()) {
            match (builder, value) {
                (TypedBuilder::Text(b), TypedValue::Text(t)) => b.append_option(*t),
                (TypedBuilder::List(b), TypedValue::List(list)) => match list {
                    Some(items) => {
                        for s in items.strings() {
                            b.values().append_value(s);
                        }
                        b.append(true);
                    }
                    None => b.append(false),
                },
                (TypedBuilder::Integer(b), TypedValue::Integer(n)) => b.append_option(*n),
                _ => {
                    return Err(ArrowError::InvalidArgumentError(
                        "internal: a typed value of another shape".into(),
                    ));
                }
            }
        }
        self.resource_path.append_option(v.resource_path);
        match v.annotations {
            Some(pairs) => {
                for (k, val) in pairs.pairs() {
                    self.annotations.keys().append_value(k);
                    self.annotations.values().append_value(val);
                }
                self.annotations.append(true)?;
            }
            None => self.annotations.append(false)?,
        }
        self.request_object.append_option(v.request_object);
        self.response_object.append_option(v.response_object);
        self.complex.append_value(v.complex);
        let mut leaves = 0usize;
        for leaf in v.leaves.leaves() {
            self.leaf_path.append_value(leaf.path);
            self.leaf_text.append_option(leaf.text);
            self.leaf_num.append_option(leaf.num);
            self.leaf_is_num.append_value(leaf.is_num);
            self.leaf_ts.append_option(leaf.ts);
            leaves += 1;
        }
        let last = self.leaf_offsets.last().copied().unwrap_or(0);
        let next = i32::try_from(leaves)
            .ok()
            .and_then(|n| last.checked_add(n))
            .ok_or_else(|| ArrowError::ComputeError("too many leaves in one batch".into()))?;
        self.leaf_offsets.push(next);
        self.raw.append_value(row.raw);
        self.seq.append_value(row.seq);
        self.source_file.append_value(row.source_file);
        self.source_line.append_option(row.source_line);
        self.cluster.append_option(row.cluster);
        self.date.append_value(v.date);
        self.rows += 1;
        Ok(())
    }

    /// The batch of the rows pushed so far (the builders start over), without the
    /// columns named in `omit` (the partition columns).
    pub fn finish(&mut self, omit: &[&str]) -> Result<RecordBatch, ArrowError> {
        let mut arrays: HashMap<&'static str, ArrayRef> = HashMap::new();
        arrays.insert("time", Arc::new(self.time.finish()));
        arrays.insert("time_ns", Arc::new(self.time_ns.finish()));
        arrays.insert("time_text", Arc::new(self.time_text.finish()));
        arrays.insert("stage_timestamp", Arc::new(self.stage_timestamp.finish()));
        for (t, b) in TYPED
            .iter()
            .filter(|t| t.shape != Shape::Time)
            .zip(self.typed.iter_mut())
        {
            let array: ArrayRef = match b {
                TypedBuilder::Text(b) => Arc::new(b.finish()),
                TypedBuilder::List(b) => Arc::new(b.finish()),
                TypedBuilder::Integer(b) => Arc::new(b.finish()),
            };
            arrays.insert(t.column, array);
        }
        debug_assert_eq!(self.typed.len(), TYPED_FIELDS);
        arrays.insert("resource_path", Arc::new(self.resource_path.finish()));
        arrays.insert("annotations", Arc::new(self.annotations.finish()));
        arrays.insert("request_object", take_strings(&mut self.request_object));
        arrays.insert("response_object", take_strings(&mut self.response_object));
        arrays.insert("complex", Arc::new(self.complex.finish()));
        let fields = leaf_fields();
        let entries = StructArray::try_new(
            fields.clone(),
            vec![
                take_strings(&mut self.leaf_path),
                take_strings(&mut self.leaf_text),
                {
                    let n = self.leaf_num.len();
                    let a = self.leaf_num.finish();
                    self.leaf_num = Float64Builder::with_capacity(n);
                    Arc::new(a)
                },
                {
                    let n = self.leaf_is_num.len();
                    let a = self.leaf_is_num.finish();
                    self.leaf_is_num = BooleanBuilder::with_capacity(n);
                    Arc::new(a)
                },
                {
                    let n = self.leaf_ts.len();
                    let a = self.leaf_ts.finish();
                    self.leaf_ts = Int64Builder::with_capacity(n);
                    Arc::new(a)
                },
            ],
            None,
        )?;
        let mut next_offsets = Vec::with_capacity(self.leaf_offsets.len());
        next_offsets.push(0);
        let offsets =
            OffsetBuffer::new(std::mem::replace(&mut self.leaf_offsets, next_offsets).into());
        let leaves = ListArray::try_new(
            Arc::new(Field::new("item", DataType::Struct(fields), false)),
            offsets,
            Arc::new(entries),
            None,
        )?;
        arrays.insert("leaves", Arc::new(leaves));
        arrays.insert("raw", take_strings(&mut self.raw));
        arrays.insert("seq", Arc::new(self.seq.finish()));
        arrays.insert("source_file", Arc::new(self.source_file.finish()));
        arrays.insert("source_line", Arc::new(self.source_line.finish()));
        arrays.insert("cluster", Arc::new(self.cluster.finish()));
        arrays.insert("date", Arc::new(self.date.finish()));
        self.rows = 0;
        let mut fields = Vec::new();
        let mut columns = Vec::new();
        for name in COLUMNS.iter().filter(|c| !omit.contains(c)) {
            let array = arrays
                .remove(name)
                .ok_or_else(|| ArrowError::SchemaError(format!("internal: no column {name}")))?;
            let nullable = !NOT_NULL.contains(name);
            fields.push(Field::new(*name, array.data_type().clone(), nullable));
            columns.push(array);
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
    }
}

/// The strings built so far as an array; the builder starts over with room for as many
/// (batches are alike: growing the buffers again would copy them again).
fn take_strings(b: &mut StringBuilder) -> ArrayRef {
    let (items, bytes) = (b.len(), b.values_slice().len());
    let array = b.finish();
    *b = StringBuilder::with_capacity(items, bytes + bytes / 8);
    Arc::new(array)
}

/// Columns that are never NULL.
const NOT_NULL: &[&str] = &["complex", "leaves", "raw", "seq", "source_file", "date"];

/// The fields of a `leaves` entry.
fn leaf_fields() -> Fields {
    Fields::from(vec![
        Field::new("path", DataType::Utf8, false),
        Field::new("text", DataType::Utf8, true),
        Field::new("num", DataType::Float64, true),
        Field::new("is_num", DataType::Boolean, false),
        Field::new("ts", DataType::Int64, true),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_the_documented_table() {
        let doc = include_str!("../../docs/scale-out.md");
        let table = doc.split("### Typed columns").nth(1).unwrap();
        let table = table.split("\n#").next().unwrap();
        let documented: Vec<&str> = table
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split('`').next())
            .collect();
        assert_eq!(documented, COLUMNS);
    }
}
