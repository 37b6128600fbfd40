// The communication of data-parallel training and distributed experiment grids, behind a small protocol:
// one process (`SingleProcess`, no MPI needed) or Open MPI loaded at run time under mpirun (`OpenMPI`).
import CFreeLBMPI
import Foundation

/// The ranks of a job and the collective operations training needs. Every rank must make the same calls
/// in the same order; a failed call ends the job (Open MPI's default error handler aborts every rank).
public protocol Collective: AnyObject {
    /// This process, 0..<size; rank 0 writes the run folder.
    var rank: Int { get }
    var size: Int { get }
    /// In place: every rank's buffer becomes the element-wise sum over ranks.
    func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>)
    func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>)
    /// Every rank receives `root`'s bytes (any length).
    func broadcast(_ bytes: inout [UInt8], root: Int)
    func barrier()
    /// Point to point, for the experiment queue: one integer with a tag.
    func send(_ value: Int64, to rank: Int, tag: Int)
    func receive(from rank: Int, tag: Int) -> Int64
    /// The rank of a waiting message with `tag`, without receiving it (nil: none waits).
    func pendingSender(tag: Int) -> Int?
}

extension Collective {
    public var isRoot: Bool { rank == 0 }

    /// Sum over ranks of a few numbers (returns the summed copy).
    public func allreduceSum(_ values: [Double]) -> [Double] {
        var copy = values
        copy.withUnsafeMutableBufferPointer { allreduceSum($0) }
        return copy
    }

    /// `root`'s value of a Codable value on every rank (JSON through `broadcast`).
    public func broadcast<Value: Codable>(_ value: Value, root: Int = 0) throws -> Value {
        guard size > 1 else { return value }
        var bytes = rank == root ? [UInt8](try JSONEncoder().encode(value)) : []
        broadcast(&bytes, root: root)
        return try JSONDecoder().decode(Value.self, from: Data(bytes))
    }
}

/// One process: every collective is the identity.
public final class SingleProcess: Collective {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) {}
    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) {}
    public func broadcast(_ bytes: inout [UInt8], root: Int) {}
    public func barrier() {}
    public func send(_ value: Int64, to rank: Int, tag: Int) { preconditionFailure("send in a single process") }
    public func receive(from rank: Int, tag: Int) -> Int64 { preconditionFailure("receive in a single process") }
    public func pendingSender(tag: Int) -> Int? { nil }
}

/// Open MPI's MPI_COMM_WORLD, through libmpi loaded at run time (CFreeLBMPI). Created once per process by
/// `Distributed.world()`.
public final class OpenMPI: Collective {
    public let rank: Int
    public let size: Int

    fileprivate init() throws {
        var message = [CChar](repeating: 0, count: 512)
        guard flb_mpi_load(&message, message.count) == 0 else {
            throw RunError("mpirun started this process, but " + String(cString: message))
        }
        var rank: Int32 = 0, size: Int32 = 0
        let status = flb_mpi_init(&rank, &size)
        guard status == 0 else { throw RunError("MPI_Init_thread failed (MPI error \(status))") }
        (self.rank, self.size) = (Int(rank), Int(size))
    }

    private func check(_ status: Int32, _ call: String) {
        guard status != 0 else { return }
        FileHandle.standardError.write(Data("error: rank \(rank): \(call) failed (MPI error \(status))\n".utf8))
        flb_mpi_abort(1)
    }

    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        check(flb_mpi_allreduce_sum_float(base, Int64(buffer.count)), "MPI_Allreduce")
    }

    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        check(flb_mpi_allreduce_sum_double(base, Int64(buffer.count)), "MPI_Allreduce")
    }

    public func broadcast(_ bytes: inout [UInt8], root: Int) {
        var length = Int64(bytes.count)
        check(flb_mpi_broadcast_bytes(&length, 8, Int32(root)), "MPI_Bcast")
        if rank != root { bytes = [UInt8](repeating: 0, count: Int(length)) }
        guard length > 0 else { return }
        check(bytes.withUnsafeMutableBytes { flb_mpi_broadcast_bytes($0.baseAddress, length, Int32(root)) }, "MPI_Bcast")
    }

    public func barrier() { check(flb_mpi_barrier(), "MPI_Barrier") }

    public func send(_ value: Int64, to rank: Int, tag: Int) {
        check(flb_mpi_send_int64(value, Int32(rank), Int32(tag)), "MPI_Send")
    }

    public func receive(from rank: Int, tag: Int) -> Int64 {
        var value: Int64 = 0
        check(flb_mpi_receive_int64(&value, Int32(rank), Int32(tag)), "MPI_Recv")
        return value
    }

    public func pendingSender(tag: Int) -> Int? {
        var found: Int32 = 0, source: Int32 = 0
        check(flb_mpi_probe_any(Int32(tag), &found, &source), "MPI_Iprobe")
        return found != 0 ? Int(source) : nil
    }

    fileprivate func finalize() { _ = flb_mpi_finalize() }
}

/// The job this process belongs to.
public enum Distributed {
    /// Whether mpirun (Open MPI's launcher) started this process: it sets OMPI_COMM_WORLD_SIZE (and PMIx's PMIX_RANK).
    public static var launchedByMPI: Bool {
        let environment = ProcessInfo.processInfo.environment
        return environment["OMPI_COMM_WORLD_SIZE"] != nil || environment["PMIX_RANK"] != nil
    }

    nonisolated(unsafe) private static var started: Collective?

    /// Open MPI's world under mpirun (initialised on the first call), else a single process. The single-process
    /// path never loads libmpi, so it runs on a machine without Open MPI.
    public static func world() throws -> Collective {
        if let started { return started }
        let world: Collective = launchedByMPI ? try OpenMPI() : SingleProcess()
        started = world
        return world
    }

    /// Ends MPI cleanly after a successful command (every rank must call it); nothing in a single process.
    public static func finish() {
        (started as? OpenMPI)?.finalize()
        started = nil
    }

    /// After an error on one rank: ends every rank of the job (MPI_Abort) so that none waits forever in a
    /// collective. Returns (doing nothing) in a single process.
    public static func abortJob(code: Int32) {
        guard let world = started as? OpenMPI, world.size > 1 else { return }
        flb_mpi_abort(code)
    }

    /// The default thread count of a rank: the CPUs mpirun bound it to, or, when it is not bound, this machine's
    /// cores shared among the ranks on it (OMPI_COMM_WORLD_LOCAL_SIZE). Nil outside mpirun.
    public static var coresPerRank: Int? {
        guard launchedByMPI else { return nil }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let bound = Int(flb_affinity_cpu_count())
        if bound > 0 && bound < cores { return bound }
        let local = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap { Int($0) } ?? 1
        return max(1, cores / max(1, local))
    }
}
