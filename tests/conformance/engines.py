"""The engines the suite runs the SQL on, one per `auditq sql` dialect that has an engine
installable from PyPI: DuckDB (duckdb), ClickHouse (chDB, ClickHouse in process), Spark
(PySpark in local mode). Each loads the exported Parquet as a table (a view over the
files) and runs a statement, returning (column names, rows)."""

import os


def parquet_files(directory):
    out = []
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        out.extend(os.path.join(root, f) for f in sorted(files) if f.endswith(".parquet"))
    return out


def _sql_string(text):
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Missing(Exception):
    """An engine's package is not installed."""


class DuckDB:
    dialect = "duckdb"
    name = "DuckDB"

    def __init__(self):
        try:
            import duckdb
        except ImportError as e:
            raise Missing("duckdb: %s" % e)
        self.version = duckdb.__version__
        self.con = duckdb.connect()
        self.con.execute("SET threads = 2")

    def load(self, directory, table):
        files = parquet_files(directory)
        listed = "[" + ", ".join("'%s'" % f.replace("'", "''") for f in files) + "]"
        # A table in memory: the files' types, decoded once for the thousands of queries.
        self.con.execute(
            "CREATE OR REPLACE TABLE %s AS SELECT * FROM read_parquet(%s, hive_partitioning = true, union_by_name = true)"
            % (table, listed)
        )

    def query(self, sql):
        cur = self.con.execute(sql)
        cols = [d[0] for d in cur.description]
        return cols, cur.fetchall()

    def close(self):
        self.con.close()


class ClickHouse:
    dialect = "clickhouse"
    name = "ClickHouse (chDB)"

    def __init__(self):
        try:
            import chdb
            from chdb import session
        except ImportError as e:
            raise Missing("chdb: %s" % e)
        self.session = session.Session()
        server = self.session.query("SELECT version()", "CSV").data().strip().strip('"')
        self.version = "chdb %s, ClickHouse %s" % (chdb.__version__, server)

    def load(self, directory, table):
        files = parquet_files(directory)
        tops = {os.path.dirname(f) for f in files}
        glob = os.path.join(directory, "*.parquet") if tops == {directory} else os.path.join(directory, "**", "*.parquet")
        # A table in memory with the types file() infers from the Parquet schema.
        self.session.query("DROP TABLE IF EXISTS %s" % table)
        self.session.query(
            "CREATE TABLE %s ENGINE = Memory AS SELECT * FROM file(%s, Parquet)" % (table, _sql_string(glob))
        )

    def query(self, sql):
        result = self.session.query(sql, "ArrowTable")
        if result is None or not hasattr(result, "column_names"):
            return [], []
        cols = result.column_names
        data = [result.column(i).to_pylist() for i in range(len(cols))]
        return cols, list(zip(*data)) if cols else []

    def close(self):
        self.session.close()


class Spark:
    dialect = "spark"
    name = "Spark (PySpark, local)"

    def __init__(self):
        import warnings
        warnings.filterwarnings("ignore", category=FutureWarning)  # pandas 3 (chDB's), unused here
        try:
            import pyspark
            from pyspark.sql import SparkSession
        except ImportError as e:
            raise Missing("pyspark: %s" % e)
        self.spark = (
            SparkSession.builder.master("local[2]")
            .appName("auditq-conformance")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.driver.memory", "3g")
            # Spark reads Parquet TIMESTAMP(NANOS) only as a BIGINT, and only with this.
            .config("spark.sql.legacy.parquet.nanosAsLong", "true")
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate()
        )
        self.spark.sparkContext.setLogLevel("ERROR")
        self.version = "pyspark %s, Spark %s" % (pyspark.__version__, self.spark.version)

    def load(self, directory, table):
        # Cached, in two partitions (both cores), for the batches that follow.
        df = self.spark.read.parquet(directory).repartition(2).cache()
        df.count()
        df.createOrReplaceTempView(table)

    def query(self, sql):
        df = self.spark.sql(sql)
        result = df.toArrow()
        cols = result.column_names
        data = [result.column(i).to_pylist() for i in range(len(cols))]
        return cols, list(zip(*data)) if cols else []

    def close(self):
        self.spark.stop()


ENGINES = {"duckdb": DuckDB, "clickhouse": ClickHouse, "spark": Spark}
