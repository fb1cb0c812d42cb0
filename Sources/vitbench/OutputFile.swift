import Foundation

/// A file a command writes where the user said (`infer --output`, `export --onnx`, `profile
/// --csv` and `--trace`, `report --out` and the folder of its `--plots`, `compare --out`):
/// checked before the work that fills it — a profile of a large model runs for minutes, and a
/// typo used to cost all of it — and every failure a sentence naming the option, the path and
/// what is in the way, never Foundation's error dump.
enum OutputFile {
    /// Checks that a file can be written at `path`: not a folder, in a writable folder. A missing
    /// folder is an error (as for `cp` or `tee`), or, with `createFolders` (`report`, whose
    /// figures go beside its Markdown), made.
    static func prepare(_ path: String, option: String, createFolders: Bool = false) throws {
        guard !path.isEmpty else { throw CommandFailure("\(option): an empty path; name a file") }
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
            throw CommandFailure("\(option) \(path): that is a folder; name a file in it")
        }
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty && !(FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder) && isFolder.boolValue) {
            if createFolders {
                try prepareFolder(folder, option: "\(option) \(path):")
            } else {
                let blocker = ResultsFolder.firstExisting(folder).flatMap { $0.isFolder ? nil : $0.path }
                throw CommandFailure("\(option) \(path): " + (blocker.map { "\($0) is a file, not a folder" } ?? "no folder \(folder)"))
            }
        }
        let target = folder.isEmpty ? "." : folder
        guard FileManager.default.isWritableFile(atPath: target) else {
            throw CommandFailure("\(option) \(path): \(target) is not writable (permission denied)")
        }
    }

    /// Creates the folder `path` (and its missing parents), for files the command writes into it.
    static func prepareFolder(_ path: String, option: String) throws {
        guard !path.isEmpty else { throw CommandFailure("\(option): an empty path; name a folder") }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw CommandFailure("\(option) \(path): cannot create the folder: \(ResultsFolder.reason(error, path: path))")
        }
        guard FileManager.default.isWritableFile(atPath: path) else {
            throw CommandFailure("\(option) \(path): not writable (permission denied)")
        }
    }

    /// Writes `text` to `path` whole (through a temporary file), or fails naming the option.
    static func write(_ text: String, to path: String, option: String) throws {
        do {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw CommandFailure("\(option) \(path): cannot write: \(ResultsFolder.reason(error, path: path))")
        }
    }
}
