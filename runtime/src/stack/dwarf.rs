//! One object file's DWARF, parsed only for the units that the addresses asked about
//! need.
//!
//! `addr2line` parses every unit of a binary when it builds a context (each unit's
//! abbreviations and line-program header: 17.5 MiB of heap for a 49 MB service
//! binary, before any address is resolved), then the line programs and function
//! trees of the units it touches. Here a context holds only the units we keep:
//!
//! - A persistent **unit table** (each unit's place in `.debug_info` and its merged
//!   address ranges: 0.3 MiB for 2,277 units) says which unit an address is in. It is
//!   built once, on the first lookup, one unit at a time.
//! - A context is built over a [`gimli::Dwarf`] whose `.debug_info` reader skips every
//!   unit not kept: the abbreviation offset read in such a unit's header is turned
//!   into an invalid one ([`Keep`]), so `addr2line` cannot parse the unit and passes
//!   over it. Every offset stays the file's own, so references between units work.
//! - A unit refers to others (rustc's thin local LTO inlines across a crate's codegen
//!   units: `DW_AT_abstract_origin` with `DW_FORM_ref_addr`). Before a context is
//!   built, the kept units are scanned for those references (each unit once in the
//!   object's life, the answer kept beside the unit table) and the units they lead to
//!   are kept too, transitively, so one context answers a whole profile. Should a
//!   lookup still fail with `NoEntryAtGivenOffset`, the unit it names is kept, the
//!   context rebuilt and the lookup retried.
//!
//! Answers are the same as a context over every unit (the unit test
//! `kept_units_answer_as_every_unit_does`). The mapped file, decompressed sections,
//! symbol table and context are dropped by [`Dwarf::release`]; the unit table stays.

use std::path::Path;
use std::sync::Arc;

use object::{Object as _, ObjectSection as _};

use super::index::RawLine;

type Slice = gimli::EndianSlice<'static, gimli::RunTimeEndian>;
type Reader = gimli::RelocateReader<Slice, Keep>;
type Context = addr2line::Context<Reader>;
type Error = Box<dyn std::error::Error>;
/// An address range `(begin, end, unit)`.
type Range = (u64, u64, u32);

/// Extends a borrow of mapped or owned bytes to `'static`.
///
/// # Safety
///
/// The caller keeps the bytes alive, unmoved, for as long as the result is used: here,
/// [`Mapped`] holds the map and the owned buffers and drops everything borrowing them
/// first.
unsafe fn forever(bytes: &[u8]) -> &'static [u8] {
    // SAFETY: the caller's contract.
    unsafe { std::mem::transmute::<&[u8], &'static [u8]>(bytes) }
}

/// The sections a context reads; `.debug_aranges` is not among them (the unit table
/// already says where each kept unit is).
const SECTIONS: [gimli::SectionId; 9] = [
    gimli::SectionId::DebugAbbrev,
    gimli::SectionId::DebugAddr,
    gimli::SectionId::DebugInfo,
    gimli::SectionId::DebugLine,
    gimli::SectionId::DebugLineStr,
    gimli::SectionId::DebugRanges,
    gimli::SectionId::DebugRngLists,
    gimli::SectionId::DebugStr,
    gimli::SectionId::DebugStrOffsets,
];

/// An offset read from the header of a unit not kept: past the end of any section,
/// so parsing the unit's abbreviations fails and `addr2line` skips the unit.
const SKIPPED: usize = usize::MAX >> 1;

/// The units of `.debug_info` a context parses, as sorted `(start, end)` offsets;
/// `None` for the other sections (and for building the unit table: every unit).
#[derive(Clone, Debug, Default)]
pub(super) struct Keep(Option<Arc<[(usize, usize)]>>);

impl gimli::read::Relocate for Keep {
    fn relocate_address(&self, _offset: usize, value: u64) -> gimli::Result<u64> {
        Ok(value)
    }

    fn relocate_offset(&self, offset: usize, value: usize) -> gimli::Result<usize> {
        let Some(kept) = &self.0 else {
            return Ok(value);
        };
        let at = kept.partition_point(|&(start, _)| start <= offset);
        if at > 0 && offset < kept[at - 1].1 {
            Ok(value)
        } else {
            // Only the headers of units not kept are read: skip the unit.
            Ok(SKIPPED)
        }
    }
}

/// Where one unit is in `.debug_info`.
#[derive(Clone, Copy)]
struct Unit {
    start: usize,
    end: usize,
}

/// The file while mapped. Fields drop in order: the context before the data it borrows.
struct Mapped {
    context: Option<Context>,
    symbols: Option<object::SymbolMap<object::SymbolMapName<'static>>>,
    sections: Vec<(gimli::SectionId, Slice)>,
    endian: gimli::RunTimeEndian,
    /// Sections that were compressed in the file, decompressed.
    _owned: Vec<Owned>,
    map: memmap2::Mmap,
}

/// One object's debug info: the unit table, and (while in use) the mapped file and a
/// context over the units kept.
pub(super) struct Dwarf {
    path: std::path::PathBuf,
    units: Box<[Unit]>,
    /// Address ranges `(begin, end, unit)` sorted by `begin`, adjacent ranges of one
    /// unit merged.
    ranges: Box<[Range]>,
    /// `reach[i]`: the largest `end` of `ranges[..=i]`, so a lookup can walk back
    /// over every range that may contain an address (ranges of units can overlap).
    reach: Box<[u64]>,
    /// Per unit, once scanned: the other units its cross-unit references lead to
    /// ([`Dwarf::cross_references`]).
    references: Vec<Option<Box<[u32]>>>,
    /// Indexes into `units` of the units a context parses.
    kept: Vec<u32>,
    mapped: Option<Mapped>,
}

impl Dwarf {
    /// Maps the file and builds its unit table (no unit is kept yet).
    pub(super) fn open(path: &Path) -> Result<Dwarf, Error> {
        let mapped = Mapped::open(path)?;
        let (units, ranges) = mapped.unit_table();
        let mut end = 0;
        let reach = ranges
            .iter()
            .map(|&(_, e, _)| {
                end = end.max(e);
                end
            })
            .collect();
        let dwarf = Dwarf {
            path: path.to_owned(),
            references: vec![None; units.len()],
            units,
            ranges,
            reach,
            kept: Vec::new(),
            mapped: Some(mapped),
        };
        // The table touched every unit's header: give those pages back now.
        dwarf.advise_unneeded();
        Ok(dwarf)
    }

    /// The lines of each probe (a code address in the file), innermost first: `None`
    /// where the file could not be mapped again (try later).
    pub(super) fn resolve_many(&mut self, probes: &[u64]) -> Vec<Option<Vec<RawLine>>> {
        if self.mapped.is_none() {
            match Mapped::open(&self.path) {
                Ok(mapped) => self.mapped = Some(mapped),
                Err(_) => return probes.iter().map(|_| None).collect(),
            }
        }
        // Keep every unit the probes are in, then resolve; keep the units that failed
        // lookups name, and retry those lookups, until no lookup names a new unit.
        for &probe in probes {
            for unit in self.units_at(probe) {
                self.keep(unit);
            }
        }
        self.keep_referenced();
        let mut answers: Vec<Option<Vec<RawLine>>> = probes.iter().map(|_| None).collect();
        let mut pending: Vec<usize> = (0..probes.len()).collect();
        while !pending.is_empty() {
            // Units this pass's failed lookups need: kept together, one rebuild.
            let mut wanted: Vec<u32> = Vec::new();
            let mut retry = Vec::new();
            for at in pending {
                match self.frames(probes[at]) {
                    Ok(lines) => answers[at] = Some(lines),
                    Err(Some(offset)) => match self.unit_holding(offset) {
                        Some(unit) if !self.kept.contains(&unit) => {
                            if !wanted.contains(&unit) {
                                wanted.push(unit);
                            }
                            retry.push(at);
                        }
                        _ => answers[at] = Some(self.symbol(probes[at])),
                    },
                    Err(None) => answers[at] = Some(self.symbol(probes[at])),
                }
            }
            for unit in wanted {
                self.keep(unit);
            }
            pending = retry;
        }
        answers
    }

    /// Drops the mapped file, decompressed sections, symbol table and context (the
    /// heap they hold and the file pages they touched); the unit table stays.
    pub(super) fn release(&mut self) {
        self.mapped = None;
        self.kept.clear();
    }

    /// Drops the context and symbol table (the heap that parsing built) and forgets
    /// which units were kept, but keeps the file mapped and its compressed sections
    /// decompressed, so the next pass starts with no decompression.
    pub(super) fn release_parsed(&mut self) {
        if let Some(mapped) = &mut self.mapped {
            mapped.context = None;
            mapped.symbols = None;
        }
        self.kept.clear();
    }

    /// Whether a context or symbol table is held.
    pub(super) fn is_parsed(&self) -> bool {
        self.mapped
            .as_ref()
            .is_some_and(|m| m.context.is_some() || m.symbols.is_some())
    }

    /// Whether the file is mapped (a context or sections are held).
    pub(super) fn is_mapped(&self) -> bool {
        self.mapped.is_some()
    }

    /// Lets the kernel take back the mapped file's pages (they are read again from the
    /// page cache when next needed); the parsed context stays.
    pub(super) fn advise_unneeded(&self) {
        if let Some(mapped) = &self.mapped {
            // SAFETY: the mapping is read-only and shared: dropping its pages loses
            // nothing, a later read faults them in again from the file.
            let _ = unsafe {
                mapped
                    .map
                    .unchecked_advise(memmap2::UncheckedAdvice::DontNeed)
            };
        }
    }

    /// Keeps every unit the kept ones refer to, transitively, so that one context
    /// answers (a lookup that still names a unit not kept is retried after a
    /// rebuild). Each unit is scanned once in the object's life; after a release, the
    /// next profile's units and their references are known at once.
    fn keep_referenced(&mut self) {
        let Some(mapped) = &self.mapped else {
            return;
        };
        let dwarf = mapped.dwarf(Keep::default());
        let mut queue = self.kept.clone();
        while let Some(unit) = queue.pop() {
            let slot = unit as usize;
            if self.references[slot].is_none() {
                self.references[slot] = Some(self.cross_references(&dwarf, unit).into());
            }
            let references = self.references[slot].clone().unwrap_or_default();
            for &other in references.iter() {
                if self.keep(other) {
                    queue.push(other);
                }
            }
        }
    }

    /// The other units that `unit`'s `DW_AT_abstract_origin` and
    /// `DW_AT_specification` attributes of form `DW_FORM_ref_addr` point into: the
    /// references between units `addr2line` follows for names and inlined frames.
    /// A scan of the unit's entries that reads only those attributes.
    fn cross_references(&self, dwarf: &gimli::Dwarf<Reader>, unit: u32) -> Vec<u32> {
        let mut found = Vec::new();
        let start = gimli::DebugInfoOffset(self.units[unit as usize].start);
        let Ok(header) = dwarf.debug_info.header_from_offset(start) else {
            return found;
        };
        let Ok(abbreviations) = header.abbreviations(&dwarf.debug_abbrev) else {
            return found;
        };
        let Ok(mut entries) = header.entries_raw(&abbreviations, None) else {
            return found;
        };
        while !entries.is_empty() {
            let Ok(abbreviation) = entries.read_abbreviation() else {
                break;
            };
            let Some(abbreviation) = abbreviation else {
                continue;
            };
            let wanted = |spec: &gimli::AttributeSpecification| {
                spec.form() == gimli::DW_FORM_ref_addr
                    && matches!(
                        spec.name(),
                        gimli::DW_AT_abstract_origin | gimli::DW_AT_specification
                    )
            };
            let specs = abbreviation.attributes();
            if !specs.iter().any(wanted) {
                // Most entries: skipped whole.
                if entries.skip_attributes(specs).is_err() {
                    return found;
                }
                continue;
            }
            for spec in specs {
                if !wanted(spec) {
                    if entries.skip_attributes(std::slice::from_ref(spec)).is_err() {
                        return found;
                    }
                    continue;
                }
                let Ok(attribute) = entries.read_attribute(*spec) else {
                    return found;
                };
                if let gimli::AttributeValue::DebugInfoRef(offset) = attribute.value()
                    && let Some(other) = self.unit_holding(offset.0 as u64)
                    && other != unit
                    && !found.contains(&other)
                {
                    found.push(other);
                }
            }
        }
        found
    }

    /// Keeps `unit` for the next context; true when it was not kept yet.
    fn keep(&mut self, unit: u32) -> bool {
        if self.kept.contains(&unit) {
            return false;
        }
        self.kept.push(unit);
        if let Some(mapped) = &mut self.mapped {
            mapped.context = None;
        }
        true
    }

    /// Units whose ranges contain `probe`.
    fn units_at(&self, probe: u64) -> Vec<u32> {
        let mut found = Vec::new();
        let mut at = self.ranges.partition_point(|&(begin, _, _)| begin <= probe);
        while at > 0 && self.reach[at - 1] > probe {
            at -= 1;
            let (begin, end, unit) = self.ranges[at];
            if (begin..end).contains(&probe) && !found.contains(&unit) {
                found.push(unit);
            }
        }
        found
    }

    /// The unit whose `.debug_info` span holds `offset`.
    fn unit_holding(&self, offset: u64) -> Option<u32> {
        let offset = usize::try_from(offset).ok()?;
        let at = self.units.partition_point(|u| u.end <= offset);
        let unit = self.units.get(at)?;
        (unit.start <= offset).then_some(at as u32)
    }

    /// The frames at `probe` from a context over the kept units; `Err(Some(offset))`
    /// when a reference leads to a unit not kept, `Err(None)` on any other error.
    fn frames(&mut self, probe: u64) -> Result<Vec<RawLine>, Option<u64>> {
        let Some(mapped) = &mut self.mapped else {
            return Err(None);
        };
        if mapped.context.is_none() {
            let mut kept: Vec<(usize, usize)> = self
                .kept
                .iter()
                .map(|&u| (self.units[u as usize].start, self.units[u as usize].end))
                .collect();
            kept.sort_unstable();
            let dwarf = mapped.dwarf(Keep(Some(kept.into())));
            mapped.context = Some(Context::from_dwarf(dwarf).map_err(|_| None)?);
        }
        let Some(context) = &mapped.context else {
            return Err(None);
        };
        let needs = |e: gimli::Error| match e {
            gimli::Error::NoEntryAtGivenOffset(offset) => Some(offset),
            _ => None,
        };
        let mut lines = Vec::new();
        let mut frames = context.find_frames(probe).skip_all_loads().map_err(needs)?;
        while let Some(frame) = frames.next().map_err(needs)? {
            let Some(function) = &frame.function else {
                continue;
            };
            let name = function.raw_name().map_err(needs)?;
            let location = frame.location.as_ref();
            lines.push(RawLine {
                function: super::index::demangle(&name),
                file: location.and_then(|l| l.file).unwrap_or_default().to_owned(),
                line: location.and_then(|l| l.line).unwrap_or(0),
            });
        }
        drop(frames);
        if lines.is_empty() {
            return Ok(self.symbol(probe));
        }
        Ok(lines)
    }

    /// The symbol table's name for `probe`, as `backtrace` falls back to when the
    /// debug info names no function there.
    fn symbol(&mut self, probe: u64) -> Vec<RawLine> {
        let Some(mapped) = &mut self.mapped else {
            return Vec::new();
        };
        let symbols = mapped.symbols.get_or_insert_with(|| {
            // SAFETY: the mapping lives in `Mapped` beside the table, which drops first.
            let data: &'static [u8] = unsafe { forever(&mapped.map[..]) };
            match object::File::parse(data) {
                Ok(file) => file.symbol_map(),
                Err(_) => object::SymbolMap::new(Vec::new()),
            }
        });
        symbols
            .containing(probe)
            .map(|symbol| RawLine {
                function: super::index::demangle(symbol.name()),
                file: String::new(),
                line: 0,
            })
            .into_iter()
            .collect()
    }
}

/// A decompressed section: in its own mapping when zlib (so that freeing it does not
/// raise glibc's mmap threshold for the host's allocations, see `crate::zeroed`), else
/// as `object` decompresses it.
enum Owned {
    Mapped(crate::zeroed::Table<u8>),
    Heap(Vec<u8>),
}

impl std::ops::Deref for Owned {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Owned::Mapped(table) => table,
            Owned::Heap(bytes) => bytes,
        }
    }
}

/// A section's bytes: `Ok` borrowed from the file, `Err` decompressed.
fn decompressed(
    section: &object::Section<'static, '_>,
) -> Result<Result<&'static [u8], Owned>, Error> {
    let compressed = section.compressed_data()?;
    match compressed.format {
        object::CompressionFormat::None => Ok(Ok(compressed.data)),
        object::CompressionFormat::Zlib => {
            let size = usize::try_from(compressed.uncompressed_size)?;
            let mut out = crate::zeroed::slice::<u8>(size);
            let mut inflate = flate2::Decompress::new(true);
            let status =
                inflate.decompress(compressed.data, &mut out, flate2::FlushDecompress::Finish)?;
            if status != flate2::Status::StreamEnd || inflate.total_out() != size as u64 {
                return Err("truncated compressed debug section".into());
            }
            Ok(Err(Owned::Mapped(out)))
        }
        _ => Ok(Err(Owned::Heap(section.uncompressed_data()?.into_owned()))),
    }
}

impl Mapped {
    fn open(path: &Path) -> Result<Mapped, Error> {
        let file = std::fs::File::open(path)?;
        // SAFETY: a read-only map of an object file; as every symbolizer, we assume
        // the file is not truncated while mapped.
        let map = unsafe { memmap2::Mmap::map(&file)? };
        drop(file);
        // SAFETY: `map` lives in the returned `Mapped`, after everything borrowing it.
        let data: &'static [u8] = unsafe { forever(&map[..]) };
        let object = object::File::parse(data)?;
        let endian = if object.is_little_endian() {
            gimli::RunTimeEndian::Little
        } else {
            gimli::RunTimeEndian::Big
        };
        let mut owned = Vec::new();
        let mut sections = Vec::new();
        for id in SECTIONS {
            let Some(section) = object.section_by_name(id.name()) else {
                continue;
            };
            let bytes: &'static [u8] = match decompressed(&section)? {
                Ok(bytes) => bytes,
                Err(bytes) => {
                    // SAFETY: the buffer is kept in `_owned`, which drops after the
                    // context and sections that borrow it; moving it does not move
                    // its bytes.
                    let borrowed = unsafe { forever(&bytes[..]) };
                    owned.push(bytes);
                    borrowed
                }
            };
            sections.push((id, gimli::EndianSlice::new(bytes, endian)));
        }
        Ok(Mapped {
            context: None,
            symbols: None,
            sections,
            endian,
            _owned: owned,
            map,
        })
    }

    /// The sections as a [`gimli::Dwarf`] whose `.debug_info` parses the units `keep`
    /// names (all when `None`).
    fn dwarf(&self, keep: Keep) -> gimli::Dwarf<Reader> {
        let empty = gimli::EndianSlice::new(&[][..], self.endian);
        // Units after the last one kept need not even be read.
        let info_end = keep.0.as_ref().and_then(|k| k.last()).map(|&(_, end)| end);
        let section = |id: gimli::SectionId| {
            let mut slice = self
                .sections
                .iter()
                .find(|(s, _)| *s == id)
                .map_or(empty, |&(_, slice)| slice);
            let mut relocate = Keep::default();
            if id == gimli::SectionId::DebugInfo {
                if let Some(end) = info_end {
                    slice = gimli::EndianSlice::new(
                        &slice.slice()[..end.min(slice.len())],
                        self.endian,
                    );
                }
                relocate = keep.clone();
            }
            gimli::RelocateReader::new(slice, relocate)
        };
        let mut dwarf = gimli::Dwarf::load(|id| Ok::<_, std::convert::Infallible>(section(id)))
            .unwrap_or_else(|never| match never {});
        dwarf.file_type = gimli::DwarfFileType::Main;
        dwarf
    }

    /// The address ranges `.debug_aranges` lists, by the `.debug_info` offset of
    /// their unit (empty when the file has no such section).
    fn aranges(&self) -> std::collections::HashMap<usize, Vec<(u64, u64)>> {
        let mut by_unit: std::collections::HashMap<usize, Vec<(u64, u64)>> = Default::default();
        let Ok(file) = object::File::parse(&self.map[..]) else {
            return by_unit;
        };
        let Some(bytes) = file
            .section_by_name(".debug_aranges")
            .and_then(|section| section.uncompressed_data().ok())
        else {
            return by_unit;
        };
        let aranges = gimli::DebugAranges::new(&bytes, self.endian);
        let mut headers = aranges.headers();
        while let Ok(Some(header)) = headers.next() {
            let unit = by_unit.entry(header.debug_info_offset().0).or_default();
            let mut entries = header.entries();
            while let Ok(Some(entry)) = entries.next() {
                let range = entry.range();
                unit.push((range.begin, range.end));
            }
        }
        by_unit
    }

    /// Every unit's span in `.debug_info`, and the address ranges of each, merged:
    /// from `.debug_aranges` where it lists the unit (a few bytes per range), else
    /// from the unit's root entry (its abbreviations and line-program header parsed,
    /// 8 ms for 1,231 units).
    fn unit_table(&self) -> (Box<[Unit]>, Box<[Range]>) {
        let dwarf = self.dwarf(Keep::default());
        let aranges = self.aranges();
        let mut units = Vec::new();
        let mut ranges = Vec::new();
        let mut headers = dwarf.units();
        while let Ok(Some(header)) = headers.next() {
            let Some(start) = header.debug_info_offset() else {
                continue;
            };
            let unit = Unit {
                start: start.0,
                end: start.0 + header.length_including_self(),
            };
            let index = units.len() as u32;
            units.push(unit);
            if let Some(listed) = aranges.get(&unit.start).filter(|l| !l.is_empty()) {
                for &(begin, end) in listed {
                    // Functions the linker dropped keep a range at address 0.
                    if begin != 0 && begin < end {
                        ranges.push((begin, end, index));
                    }
                }
                continue;
            }
            let Ok(parsed) = dwarf.unit(header) else {
                continue;
            };
            if let Ok(mut found) = dwarf.unit_ranges(&parsed) {
                while let Ok(Some(range)) = found.next() {
                    // Functions the linker dropped keep a range at address 0.
                    if range.begin != 0 && range.begin < range.end {
                        ranges.push((range.begin, range.end, index));
                    }
                }
            }
        }
        ranges.sort_unstable();
        let mut merged: Vec<Range> = Vec::with_capacity(ranges.len());
        for range in ranges {
            if let Some(last) = merged.last_mut()
                && last.2 == range.2
                && last.1 >= range.0
            {
                last.1 = last.1.max(range.1);
                continue;
            }
            merged.push(range);
        }
        (units.into(), merged.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every frame a context over all units gives at `probe`, as [`Dwarf::frames`]
    /// reads them (what `addr2line`'s own loader answers).
    fn everything(context: &Context, probe: u64) -> Vec<(String, String, u32)> {
        let mut lines = Vec::new();
        let mut frames = context.find_frames(probe).skip_all_loads().unwrap();
        while let Some(frame) = frames.next().unwrap() {
            let Some(function) = &frame.function else {
                continue;
            };
            let location = frame.location.as_ref();
            lines.push((
                super::super::index::demangle(&function.raw_name().unwrap()),
                location.and_then(|l| l.file).unwrap_or_default().to_owned(),
                location.and_then(|l| l.line).unwrap_or(0),
            ));
        }
        lines
    }

    #[test]
    fn kept_units_answer_as_every_unit_does() {
        let path = Path::new("/proc/self/exe");
        let mut dwarf = Dwarf::open(path).unwrap();
        let all = Mapped::open(path).unwrap();
        let full = Context::from_dwarf(all.dwarf(Keep::default())).unwrap();
        // Addresses spread over every unit with code: a few inside each range.
        let probes: Vec<u64> = dwarf
            .ranges
            .iter()
            .step_by(7)
            .flat_map(|&(begin, end, _)| [begin, begin + (end - begin) / 2, end - 1])
            .collect();
        assert!(probes.len() > 1000, "{} probes", probes.len());
        let answers = dwarf.resolve_many(&probes);
        let mut named = 0;
        for (&probe, answer) in probes.iter().zip(&answers) {
            let expected = everything(&full, probe);
            let lines: Vec<(String, String, u32)> = answer
                .as_ref()
                .unwrap()
                .iter()
                .map(|l| (l.function.clone(), l.file.clone(), l.line))
                .collect();
            if expected.is_empty() {
                // Where the debug info names nothing, the symbol table may.
                assert!(
                    lines.iter().all(|l| l.1.is_empty()),
                    "{probe:#x}: {lines:?}"
                );
                continue;
            }
            assert_eq!(lines, expected, "at {probe:#x}");
            named += 1;
        }
        assert!(
            named > probes.len() / 2,
            "{named} of {} named",
            probes.len()
        );
        // Fewer units parsed than exist, and a probe on its own answers the same.
        assert!(dwarf.kept.len() < dwarf.units.len());
        dwarf.release();
        assert!(!dwarf.is_mapped());
        for &probe in probes.iter().step_by(97) {
            let one = dwarf.resolve_many(&[probe]).pop().unwrap().unwrap();
            let expected = everything(&full, probe);
            if !expected.is_empty() {
                let one: Vec<_> = one
                    .iter()
                    .map(|l| (l.function.clone(), l.file.clone(), l.line))
                    .collect();
                assert_eq!(one, expected, "alone at {probe:#x}");
            }
        }
    }

    #[test]
    fn compressed_debug_sections_read_as_the_plain_ones() {
        // This test binary with zlib-compressed debug sections, as distributions ship
        // their debug files (objcopy is in binutils, which links Rust programs here).
        let copy = std::env::temp_dir().join(format!("profiled-zdebug-{}", std::process::id()));
        let made = std::process::Command::new("objcopy")
            .arg("--compress-debug-sections=zlib")
            .arg(std::env::current_exe().unwrap())
            .arg(&copy)
            .status()
            .expect("objcopy runs");
        assert!(made.success());
        let plain = Mapped::open(Path::new("/proc/self/exe")).unwrap();
        let compressed = Mapped::open(&copy).unwrap();
        let _ = std::fs::remove_file(&copy);
        // The sections were decompressed into mappings, and read the same.
        assert!(
            compressed
                ._owned
                .iter()
                .any(|o| matches!(o, Owned::Mapped(_)))
        );
        for (id, bytes) in &plain.sections {
            let other = compressed.sections.iter().find(|(s, _)| s == id).unwrap().1;
            assert!(bytes.slice() == other.slice(), "{id:?} differs");
        }
    }

    #[test]
    fn skipping_a_unit_makes_its_abbreviations_unreadable() {
        let keep = Keep(Some(vec![(100, 200)].into()));
        use gimli::read::Relocate;
        assert_eq!(keep.relocate_offset(150, 7).unwrap(), 7);
        assert_eq!(keep.relocate_offset(99, 7).unwrap(), SKIPPED);
        assert_eq!(keep.relocate_offset(200, 7).unwrap(), SKIPPED);
        assert_eq!(Keep::default().relocate_offset(5, 7).unwrap(), 7);
    }
}
