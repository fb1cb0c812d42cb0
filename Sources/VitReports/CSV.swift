import Foundation

/// The columns of a result file (CSV, JSON), in the order `vitbench` writes them. Readers must
/// look columns up by name: new columns may appear anywhere, and files from older versions may
/// lack some. Times are of one forward pass of the whole batch, in milliseconds, over the
/// measured (warm) runs unless said otherwise. An empty value means "not measured / not known".
///
/// | column | unit | meaning |
/// |---|---|---|
/// | `suite` | text | Name of the suite that produced the row (empty for a single `vitbench bench`). |
/// | `model` | text | Zoo name (`vitbench list`); MetaFormer skeletons carry their mixer (and ablation variants their switch) after a colon, e.g. `metaformer_s12:repmixer`. Blocks measured alone are `family.block` (`vitbench list --blocks`), e.g. `fastvit.repmixer`. |
/// | `mixer` | text | The part of `model` after the colon: a MetaFormer skeleton's token mixer (`pooling`, `repmixer`, `attention`, `dwconv`, `identity`) or an ablation variant; empty for other models. |
/// | `form` | text | `train` (multi-branch, as trained) or `inference` (structurally reparameterised). |
/// | `resolution` | pixels | Side of the square input image; for a block, of its input grid (feature map or token grid). |
/// | `dim` | channels | A block's width; empty for whole models. |
/// | `batch` | images | Images per forward pass. |
/// | `threads` | count | Worker threads of the engine. |
/// | `pinning` | text | Thread pinning policy: `none`, `compact`, `scatter`, `cores=…`, `kind=…`. |
/// | `pinning_status` | text | How binding went: the PUs the workers were bound to, or why binding was refused. |
/// | `backend` | text | Engine backend that ran the plan. |
/// | `blas` | text | BLAS library behind the backend's products, with version and kernel configuration (`OpenBLAS 0.3.21 Haswell`, `BLIS 0.9.0 zen3`). |
/// | `runtime` | text | What executed the network: `vitbench` (the engine), the library it delegated operators to (XNNPACK, with version and file), or an external runtime with its version and settings. |
/// | `blas_threads` | count | Threads OpenBLAS itself starts inside each product (1: the engine's workers do all the parallel work). |
/// | `kernel_isa` | text | Variant of the engine's kernels that ran: `avx512`, `avx2`, `baseline` (x86-64), `neon` (ARM64), `portable` (`--isa`, a suite's `isas:`). |
/// | `median_ms` | ms | Median time of the measured runs: the headline number. |
/// | `min_ms` | ms | Fastest measured run. |
/// | `mean_ms` | ms | Mean of the measured runs. |
/// | `stddev_ms` | ms | Sample standard deviation (n − 1) of the measured runs. |
/// | `p90_ms`, `p99_ms` | ms | 90th / 99th percentile (linear interpolation, numpy's default). |
/// | `ci95_low_ms`, `ci95_high_ms` | ms | Distribution-free 95% confidence interval of the median (order statistics); the whole range below 6 runs. |
/// | `cv` | ratio | Coefficient of variation, `stddev_ms / mean_ms`. |
/// | `runs` | count | Number of measured runs. |
/// | `cold_ms` | ms | The very first run (page faults, cold caches, lazy set-up); not part of the statistics. |
/// | `images_per_s` | images/s | Throughput at the median: `batch / median`. |
/// | `gflops` | GFLOP/s | Achieved arithmetic rate at the median, 2 FLOPs per multiply–accumulate, whole batch. |
/// | `gmacs` | GMAC | Multiply–accumulates of one image in the measured form and resolution, 10⁹. |
/// | `params_m` | 10⁶ | Parameters of the measured form (the reparameterised form has fewer). |
/// | `peak_rss_mb` | MiB | Peak resident memory of the process while the configuration was built and measured. |
/// | `noisy` | `yes`/`no` | `yes` when `cv` is above the protocol's noise threshold: treat the row with suspicion. |
/// | `error` | text | Why the configuration could not be measured; when set, the timing columns are empty. |
/// | `notes` | text | What the model says about this input size, joined by `; ` — e.g. LeViT attention biases rebuilt for another grid, DeiT position embeddings resampled. |
/// | `machine_id` | text | Identifier of the machine (the `Results/<machine-id>/` folder). |
/// | `arch` | text | CPU architecture, e.g. `x86_64`, `arm64`. |
/// | `cpu` | text | CPU model name. |
/// | `commit` | text | Git commit of vitbench that measured the row. |
/// | `os_kernel` | text | OS kernel name and release. |
/// | `compiler` | text | Swift compiler that built the binary and the C kernels' flags. |
/// | `timestamp` | ISO 8601 | When the configuration was measured. |
/// | `cooldown_s`, `interleaved` | s, `yes`/`no` | The suite's drift controls: the pause between configurations, and whether repetitions were shuffled. |
/// | `repetition` | count | Which repetition of its configuration the row is (1-based; a suite's `repetitions:`). Each is one observation for `vitbench compare`. |
/// | `load` | CPUs | CPU time other processes used while the configuration ran, over its wall time (0.5 = half a core busy elsewhere). |
/// | `load_avg_1m` | count | The one-minute load average when the configuration started (vitbench's own earlier work included). |
/// | `steal_pct` | % | CPU time the hypervisor stole while the configuration ran. |
/// | `busy` | `yes`/`no` | `yes` when `load` ≥ 0.5 or `steal_pct` ≥ 5: the machine was shared; `compare` treats the row as noisy. |
///
/// Per-run times are not in this file (one configuration of small blocks runs thousands of
/// times): a suite writes them beside it, to `NAME.samples.csv`, one run per line
/// (``SampleColumns``); `bench --json` includes them as `samples_ms`.
///
/// A configuration is identified by `model, form, resolution, batch, threads, backend` and, when
/// present, `pinning`, `dim`, `kernel_isa` and `blas_threads` (see ``ResultColumns/key``). A suite with `repetitions > 1` writes several
/// rows per configuration; reports take the median of their medians, `compare` tests on them as repetitions.
public enum ResultColumns {
    /// Columns that identify a configuration, in display order. `compare` pairs rows on those
    /// present in both files; pivots group on those present in the table.
    public static let key = ["model", "form", "resolution", "batch", "threads", "backend", "pinning", "dim", "kernel_isa", "blas_threads"]

    /// A configuration's identity as one string: the key columns' values joined by `|`, in the
    /// order of ``key``. Built here only — for a configuration about to run and for a row read
    /// back (`--resume`, `--filter`) alike — so the two always agree.
    public static func keyString(_ value: (String) -> String) -> String {
        key.map(value).joined(separator: "|")
    }

    /// Columns that are text even when a value looks like a number (a commit `1234567`, a model
    /// called `1e3`): JSON keeps them as strings. Every other column is a number when its value is one.
    public static let text: Set<String> = [
        "suite", "model", "mixer", "form", "pinning", "backend", "noisy", "error", "notes",
        "machine_id", "arch", "cpu", "kernel_isa", "blas", "commit", "os_kernel", "compiler", "timestamp", "samples_ms", "busy",
    ]
}

/// The samples file a suite writes beside its results (`NAME.samples.csv`): one measured run per
/// line, in run order — the configuration's key columns, its `repetition`, the run's index
/// `run` (1-based) and its time `ms`.
public enum SampleColumns {
    public static let header = ResultColumns.key + ["repetition", "run", "ms"]

    /// The samples file of a results CSV.
    public static func path(forCSV csv: String) -> String {
        (csv as NSString).deletingPathExtension + ".samples.csv"
    }
}

/// Where a CSV file is malformed, or what about a result file is unusable: always with the file
/// and, when it is about one place, the 1-based line and column.
public struct CSVError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let line: Int?
    public let column: Int?
    public let message: String

    public init(file: String, line: Int? = nil, column: Int? = nil, _ message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String {
        var place = file
        if let line { place += ":\(line)" }
        if let column { place += ":\(column)" }
        return "\(place): \(message)"
    }
}

/// RFC 4180 CSV: fields separated by commas; a field containing a comma, a double quote, CR or
/// LF (or with leading/trailing spaces, which some readers trim) is enclosed in double quotes,
/// with its quotes doubled. Records end in LF rather than RFC 4180's CRLF, so `grep`, `cut` and
/// `awk` see no stray `\r`; the reader accepts both. Writing then reading gives back exactly the
/// same fields.
public enum CSV {
    /// A record and the line it starts on (1-based), for error messages.
    public struct Record: Equatable, Sendable {
        public var fields: [String]
        public var line: Int
    }

    /// One field, quoted when it has to be.
    ///
    /// Works on bytes, not characters: a quote followed by a combining mark is one Swift
    /// `Character`, which `replacingOccurrences(of: "\"")` does not match (the fuzzer found the
    /// doubled quote missing). A leading U+FEFF is quoted too, or the reader would take it for a
    /// byte order mark and drop it.
    public static func field(_ value: String) -> String {
        let bytes = value.utf8
        let needsQuotes = bytes.contains { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 10 || $0 == 13 }
            || bytes.first == UInt8(ascii: " ") || bytes.last == UInt8(ascii: " ") || bytes.starts(with: [0xEF, 0xBB, 0xBF])
        guard needsQuotes else { return value }
        var quoted: [UInt8] = [UInt8(ascii: "\"")]
        quoted.reserveCapacity(bytes.count + 8)
        for b in bytes {
            quoted.append(b)
            if b == UInt8(ascii: "\"") { quoted.append(b) }
        }
        quoted.append(UInt8(ascii: "\""))
        return String(decoding: quoted, as: UTF8.self)
    }

    /// One record with its line terminator. A record of one empty field is written `""`: an
    /// empty line would read back as nothing (the reader skips blank lines).
    public static func record(_ fields: [String]) -> String {
        if fields == [""] { return "\"\"\n" }
        return fields.map(field).joined(separator: ",") + "\n"
    }

    /// Parses CSV text into records. Blank lines are skipped; a UTF-8 byte order mark is ignored.
    /// Throws a ``CSVError`` naming `file`, line and column for an unterminated quoted field, a
    /// quote inside an unquoted field, text after a closing quote, or a lone carriage return.
    public static func parse(_ text: String, file: String = "<input>") throws -> [Record] {
        var parser = Parser(bytes: Array(text.utf8), file: file)
        return try parser.parse(allowTruncatedTail: false).records
    }

    /// The byte-level parser. `allowTruncatedTail` is for resuming a file an interrupted writer
    /// left with a partial last record: instead of failing it reports where the complete
    /// records end, so the caller can cut the rest.
    struct Parser {
        let bytes: [UInt8]
        let file: String
        var pos = 0
        var line = 1
        var lineStart = 0

        init(bytes: [UInt8], file: String) {
            self.bytes = bytes
            self.file = file
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { pos = 3; lineStart = 3 }
        }

        static let comma = UInt8(ascii: ","), quote = UInt8(ascii: "\""), lf: UInt8 = 10, cr: UInt8 = 13

        /// Records, and the byte length of the text up to the end of the last complete record
        /// (the whole text unless the tail was truncated and tolerated).
        mutating func parse(allowTruncatedTail: Bool) throws -> (records: [Record], completeLength: Int) {
            var records: [Record] = []
            var complete = pos
            while pos < bytes.count {
                if bytes[pos] == Self.lf || (bytes[pos] == Self.cr && pos + 1 < bytes.count && bytes[pos + 1] == Self.lf) {
                    // A blank line.
                    pos += bytes[pos] == Self.cr ? 2 : 1
                    newLine()
                    complete = pos
                    continue
                }
                let startLine = line
                do {
                    let (fields, terminated) = try parseRecord()
                    if !terminated && allowTruncatedTail { break }
                    records.append(Record(fields: fields, line: startLine))
                    complete = pos
                } catch let error as CSVError where allowTruncatedTail && error.message.hasPrefix(Self.unterminated) {
                    break
                }
            }
            return (records, complete)
        }

        static let unterminated = "unterminated quoted field"

        mutating func newLine() {
            line += 1
            lineStart = pos
        }

        /// The 1-based column, in characters, of a byte offset on the current line.
        func column(at offset: Int) -> Int {
            String(decoding: bytes[lineStart..<min(offset, bytes.count)], as: UTF8.self).count + 1
        }

        func error(_ message: String) -> CSVError {
            CSVError(file: file, line: line, column: column(at: pos), message)
        }

        /// One record from `pos`; whether it ended with a line terminator (rather than the end of the text).
        mutating func parseRecord() throws -> ([String], Bool) {
            var fields: [String] = []
            while true {
                let value: String
                if pos < bytes.count && bytes[pos] == Self.quote {
                    value = try quotedField()
                } else {
                    let start = pos
                    while pos < bytes.count, bytes[pos] != Self.comma, bytes[pos] != Self.lf, bytes[pos] != Self.cr {
                        if bytes[pos] == Self.quote {
                            throw error("a double quote inside an unquoted field: quote the whole field and double the quote")
                        }
                        pos += 1
                    }
                    value = String(decoding: bytes[start..<pos], as: UTF8.self)
                }
                fields.append(value)
                guard pos < bytes.count else { return (fields, false) }
                switch bytes[pos] {
                case Self.comma:
                    pos += 1
                case Self.lf:
                    pos += 1
                    newLine()
                    return (fields, true)
                case Self.cr where pos + 1 < bytes.count && bytes[pos + 1] == Self.lf:
                    pos += 2
                    newLine()
                    return (fields, true)
                case Self.cr where pos + 1 == bytes.count:
                    // A CR at the very end: taken as the end of the record, but not as a complete
                    // terminator (a writer cut between CR and LF).
                    pos += 1
                    return (fields, false)
                case Self.cr:
                    throw error("a carriage return outside quotes not followed by a line feed")
                default:
                    throw error("unexpected text after a closing quote: expected a comma or the end of the line")
                }
            }
        }

        /// A quoted field from its opening quote at `pos`; leaves `pos` after the closing quote.
        mutating func quotedField() throws -> String {
            let openLine = line, openColumn = column(at: pos)
            pos += 1
            var value: [UInt8] = []
            while pos < bytes.count {
                let b = bytes[pos]
                if b == Self.quote {
                    if pos + 1 < bytes.count && bytes[pos + 1] == Self.quote {
                        value.append(Self.quote)
                        pos += 2
                        continue
                    }
                    pos += 1
                    return String(decoding: value, as: UTF8.self)
                }
                value.append(b)
                pos += 1
                if b == Self.lf { newLine() }
            }
            throw CSVError(file: file, line: openLine, column: openColumn,
                           "\(Self.unterminated): the quote opened here is never closed")
        }
    }
}

/// A table of results: a header naming the columns and rows of string values, one per column.
/// Everything about reports works on it by column name, so any column set written by any version
/// of the harness can be read, rendered and compared.
public struct ResultTable: Equatable, Sendable {
    public private(set) var header: [String]
    public private(set) var rows: [[String]]
    /// Where the table came from, for error messages (a path, or `<input>`).
    public var source: String
    /// The 1-based line each row starts on in `source` (0 for rows not read from a file).
    public private(set) var lines: [Int]

    private var index: [String: Int]

    /// A table from a header and rows; every row must have one value per column, and column
    /// names must be unique and non-empty.
    public init(header: [String], rows: [[String]] = [], source: String = "<input>") throws {
        self.header = header
        self.rows = []
        self.source = source
        self.lines = []
        self.index = [:]
        try setHeader(header, line: nil)
        for row in rows { try append(row) }
    }

    /// A table from records given as ordered (column, value) pairs — what `BenchResult.fields`
    /// returns. The first record's columns are the header; every record must have the same ones.
    public init(records: [[(String, String)]], source: String = "<input>") throws {
        try self.init(header: records.first?.map(\.0) ?? [], source: source)
        for r in records { try append(fields: r) }
    }

    /// Parses CSV text whose first record is the header.
    public init(csv text: String, source: String = "<input>") throws {
        let records = try CSV.parse(text, file: source)
        guard let first = records.first else { throw CSVError(file: source, "no header: the file is empty") }
        self.header = []
        self.rows = []
        self.source = source
        self.lines = []
        self.index = [:]
        try setHeader(first.fields, line: first.line)
        for r in records.dropFirst() {
            guard r.fields.count == header.count else {
                throw CSVError(file: source, line: r.line,
                               "\(r.fields.count) field(s) but the header on line \(first.line) has \(header.count)")
            }
            rows.append(r.fields)
            lines.append(r.line)
        }
    }

    /// Reads a CSV file.
    public static func read(contentsOf path: String) throws -> ResultTable {
        let data = try readData(path)
        guard let text = String(data: data, encoding: .utf8) else { throw CSVError(file: path, "not UTF-8 text") }
        return try ResultTable(csv: text, source: path)
    }

    /// The largest CSV read (results and their samples, profiles). A suite's results are KiB to
    /// MiB, its samples tens of MiB; a 3 GiB file of zeros given to `report` took 12.6 GB
    /// resident and 44 s, and twice that would have been killed for memory.
    public static let maximumFileBytes = 1 << 30

    /// The bytes of a file, or an error saying plainly why not.
    static func readData(_ path: String) throws -> Data {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw CSVError(file: path, "no such file") }
        guard !isDirectory.boolValue else { throw CSVError(file: path, "a folder, not a CSV file") }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
        guard size <= maximumFileBytes else {
            throw CSVError(file: path, "\(size) bytes, more than any results file vitbench writes (at most \(maximumFileBytes >> 30) GiB is read)")
        }
        do { return try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw CSVError(file: path, "cannot read: \((error as NSError).localizedDescription)")
        }
    }

    private mutating func setHeader(_ names: [String], line: Int?) throws {
        var seen: [String: Int] = [:]
        for (i, name) in names.enumerated() {
            guard !name.isEmpty else { throw CSVError(file: source, line: line, "header: column \(i + 1) has no name") }
            if let j = seen[name] {
                throw CSVError(file: source, line: line, "header: column '\(name)' appears twice (columns \(j + 1) and \(i + 1))")
            }
            seen[name] = i
        }
        header = names
        index = seen
    }

    public static func == (a: ResultTable, b: ResultTable) -> Bool { a.header == b.header && a.rows == b.rows }

    /// Appends a row with one value per column.
    public mutating func append(_ row: [String], line: Int = 0) throws {
        guard row.count == header.count else {
            throw CSVError(file: source, "a row of \(row.count) value(s) for \(header.count) column(s)")
        }
        rows.append(row)
        lines.append(line)
    }

    /// Appends a row given as (column, value) pairs with exactly the header's columns, in order.
    public mutating func append(fields: [(String, String)]) throws {
        try ResultTable.check(fields.map(\.0), against: header, file: source, "the row's columns do not match the header")
        try append(fields.map(\.1))
    }

    /// Throws `problem` with how `names` differ from `header` (missing and extra columns, or the
    /// first out of place) when they are not equal.
    static func check(_ names: [String], against header: [String], file: String, line: Int? = nil, _ problem: String) throws {
        guard names != header else { return }
        let missing = header.filter { !names.contains($0) }, extra = names.filter { !header.contains($0) }
        var parts: [String] = []
        if !missing.isEmpty { parts.append("missing \(missing.joined(separator: ", "))") }
        if !extra.isEmpty { parts.append("extra \(extra.joined(separator: ", "))") }
        if parts.isEmpty, let i = (0..<min(names.count, header.count)).first(where: { names[$0] != header[$0] }) {
            parts.append("column \(i + 1) is '\(names[i])' but '\(header[i])' is expected there")
        }
        throw CSVError(file: file, line: line, "\(problem): \(parts.joined(separator: "; "))")
    }

    /// The index of a column, if the table has it.
    public func column(_ name: String) -> Int? { index[name] }

    public func has(_ name: String) -> Bool { index[name] != nil }

    /// The index of a column the caller cannot do without; the error says what needed it.
    public func require(_ name: String, for purpose: String) throws -> Int {
        guard let i = index[name] else {
            throw CSVError(file: source, "\(purpose) needs the column '\(name)', which is not in the header (\(header.joined(separator: ", ")))")
        }
        return i
    }

    /// The rows for which `keep(row index)` holds, with their lines and the same header and source.
    public func filtered(_ keep: (Int) -> Bool) -> ResultTable {
        var t = self
        let kept = rows.indices.filter(keep)
        t.rows = kept.map { rows[$0] }
        t.lines = kept.map { lines.indices.contains($0) ? lines[$0] : 0 }
        return t
    }

    /// The value of `name` in row `row`; empty when the table has no such column.
    public func value(_ row: Int, _ name: String) -> String {
        index[name].map { rows[row][$0] } ?? ""
    }

    /// The value of `name` in row `row` as a number: nil when empty, an error naming the
    /// file, line and column when it is not a number.
    public func number(_ row: Int, _ name: String) throws -> Double? {
        guard let c = index[name] else { return nil }
        let s = rows[row][c].trimmingCharacters(in: .whitespaces)
        if s.isEmpty { return nil }
        guard let v = Double(s), v.isFinite else {
            throw CSVError(file: source, line: lines[row] == 0 ? nil : lines[row], column: c + 1,
                           "\(name): '\(rows[row][c])' is not a number")
        }
        return v
    }

    /// The whole table as CSV text, header first.
    public func csv() -> String {
        var out = CSV.record(header)
        for r in rows { out += CSV.record(r) }
        return out
    }

    /// Writes the table to a file (atomically: a reader never sees half of it).
    public func write(toFile path: String) throws {
        try csv().write(toFile: path, atomically: true, encoding: .utf8)
    }
}

/// Appends result rows to a CSV file one at a time, as they are measured. The header is written
/// once, when the file is new or empty; each row goes to the file in its own `write(2)` (no
/// buffering in the process), so a run that is interrupted or crashes keeps every finished row,
/// and running again with the same path resumes the file.
///
/// An existing file must have the same header, or appending fails with an error naming the file
/// and the differing columns — mixing column sets would make the file unreadable. A partial last
/// record (no line terminator: the writer was killed mid-row) is cut off before appending.
public final class CSVAppender {
    public let path: String
    public let header: [String]
    /// The rows already in the file when it was opened (for skipping configurations already measured).
    public let existing: ResultTable
    /// Whether opening cut a partial last record an interrupted writer left behind.
    public let droppedPartialRecord: Bool

    private let handle: FileHandle

    public init(path: String, header: [String]) throws {
        self.path = path
        self.header = header
        var table = try ResultTable(header: header, source: path)
        let fm = FileManager.default
        var needsHeader = true
        var dropped = false
        if fm.fileExists(atPath: path) {
            let data = try ResultTable.readData(path)
            var parser = CSV.Parser(bytes: Array(data), file: path)
            let (records, complete) = try parser.parse(allowTruncatedTail: true)
            if let first = records.first {
                try ResultTable.check(header, against: first.fields, file: path, line: first.line,
                                      "the columns being written do not match the file's header (move the file away to start anew)")
                needsHeader = false
                for r in records.dropFirst() {
                    guard r.fields.count == header.count else {
                        throw CSVError(file: path, line: r.line, "\(r.fields.count) field(s) but the header has \(header.count)")
                    }
                    try table.append(r.fields, line: r.line)
                }
            }
            if complete < data.count {
                dropped = true
                let h = try CSVAppender.open(path)
                try h.truncate(atOffset: UInt64(complete))
                try h.close()
            }
        } else {
            guard fm.createFile(atPath: path, contents: nil) else {
                throw CSVError(file: path, "cannot create the file (does its folder exist and is it writable?)")
            }
        }
        handle = try CSVAppender.open(path)
        existing = table
        droppedPartialRecord = dropped
        try handle.seekToEnd()
        if needsHeader { try write(CSV.record(header)) }
    }

    private static func open(_ path: String) throws -> FileHandle {
        guard let h = FileHandle(forWritingAtPath: path) else { throw CSVError(file: path, "cannot open for writing") }
        return h
    }

    deinit { try? handle.close() }

    private func write(_ text: String) throws {
        do { try handle.write(contentsOf: Data(text.utf8)) } catch {
            throw CSVError(file: path, "cannot write: \((error as NSError).localizedDescription)")
        }
    }

    /// Appends one row (one value per header column) and hands it to the operating system.
    public func append(_ row: [String]) throws {
        guard row.count == header.count else {
            throw CSVError(file: path, "a row of \(row.count) value(s) for \(header.count) column(s)")
        }
        try write(CSV.record(row))
    }

    /// Appends one row given as (column, value) pairs, which must name the header's columns in order.
    public func append(fields: [(String, String)]) throws {
        try ResultTable.check(fields.map(\.0), against: header, file: path, "the row's columns do not match the header")
        try append(fields.map(\.1))
    }
}

extension ResultTable {
    /// The rows of several tables in one, in order: the union of their columns by name (in order
    /// of first appearance), a row getting an empty value for each column its table lacks. The
    /// source is the tables' sources joined by ", " (one table comes back as it is); rows keep
    /// their lines in their own file.
    public static func merged(_ tables: [ResultTable]) throws -> ResultTable {
        if tables.count == 1 { return tables[0] }
        var header: [String] = []
        for t in tables { header += t.header.filter { !header.contains($0) } }
        var merged = try ResultTable(header: header, source: tables.map(\.source).joined(separator: ", "))
        for t in tables {
            let columns = header.map { t.column($0) }
            for (r, row) in t.rows.enumerated() {
                try merged.append(columns.map { $0.map { row[$0] } ?? "" }, line: t.lines.indices.contains(r) ? t.lines[r] : 0)
            }
        }
        return merged
    }
}
