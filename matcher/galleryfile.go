package matcher

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"unsafe"
)

// A gallery file holds a gallery's packed comparison data as it is in
// memory, so that a process can serve a gallery larger than its RAM by
// memory-mapping the file (OpenGalleryFile): the preselection scan reads
// the level-1 and level-2 crops, which are contiguous per chunk of 4096
// templates, and only the few templates compared fully touch their level-0
// crops. It is for measurements and bulk loading; a gallery file holds
// templates in clear, so it belongs on the shard's own disk.
//
// Layout (little endian): "VKGF", version (uint32) 1, the reference
// template's parameters as a template (length uint32, then the template
// format with an empty pattern), the number of templates (uint64) and of
// subject slots (uint64), the entries (subject uint32, finger, rep, two
// zero bytes, ones of the three levels uint32), the subject names (length
// uint16, bytes; "" for a free slot), zero padding to a multiple of 4096,
// then every chunk in full (chunkEntries x slot words x 8 bytes).

const (
	galleryFileMagic   = "VKGF"
	galleryFileVersion = 1
	galleryFileAlign   = 4096
	entryFileSize      = 20
)

// ErrGalleryFile reports a gallery file that does not read.
var ErrGalleryFile = errors.New("matcher: bad gallery file")

// WriteGalleryFile writes the gallery to w in the gallery file format.
func (gl *Gallery) WriteGalleryFile(w io.Writer) error {
	gl.mu.RLock()
	defer gl.mu.RUnlock()
	if gl.ref == nil {
		return fmt.Errorf("%w: an empty gallery", ErrGalleryFile)
	}
	if !littleEndian() {
		return fmt.Errorf("%w: only little-endian machines write it", ErrGalleryFile)
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	cw := &countWriter{w: bw}
	le := binary.LittleEndian
	ref, err := gl.ref.MarshalBinary()
	if err != nil {
		return err
	}
	var b []byte
	b = append(b, galleryFileMagic...)
	b = le.AppendUint32(b, galleryFileVersion)
	b = le.AppendUint32(b, uint32(len(ref)))
	b = append(b, ref...)
	b = le.AppendUint64(b, uint64(len(gl.entries)))
	b = le.AppendUint64(b, uint64(len(gl.subjName)))
	if _, err := cw.Write(b); err != nil {
		return err
	}
	for _, e := range gl.entries {
		b = le.AppendUint32(b[:0], uint32(e.subj))
		rep := byte(0)
		if e.rep {
			rep = 1
		}
		b = append(b, e.finger, rep, 0, 0)
		b = le.AppendUint32(b, uint32(e.ones0))
		b = le.AppendUint32(b, uint32(e.ones1))
		b = le.AppendUint32(b, uint32(e.ones2))
		if _, err := cw.Write(b); err != nil {
			return err
		}
	}
	for _, name := range gl.subjName {
		b = le.AppendUint16(b[:0], uint16(len(name)))
		b = append(b, name...)
		if _, err := cw.Write(b); err != nil {
			return err
		}
	}
	if pad := (galleryFileAlign - cw.n%galleryFileAlign) % galleryFileAlign; pad > 0 {
		if _, err := cw.Write(make([]byte, pad)); err != nil {
			return err
		}
	}
	for _, c := range gl.chunks {
		if _, err := cw.Write(unsafe.Slice((*byte)(unsafe.Pointer(&c[0])), len(c)*8)); err != nil {
			return err
		}
	}
	return bw.Flush()
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

func littleEndian() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}

// OpenGalleryFile opens a gallery file, keeping only its first limit
// templates when limit > 0 (a file written subject after subject then
// holds its first subjects). The packed data is memory-mapped where the
// system can (copy on write: Add and Remove work, and change nothing on
// disk); elsewhere it is read into memory. The mapping lasts as long as
// the process.
func OpenGalleryFile(path string, opts GalleryOptions, limit int) (*Gallery, error) {
	if !littleEndian() {
		return nil, fmt.Errorf("%w: only little-endian machines read it", ErrGalleryFile)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	var off int64
	read := func(n int) ([]byte, error) {
		b := make([]byte, n)
		if _, err := io.ReadFull(br, b); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrGalleryFile, err)
		}
		off += int64(n)
		return b, nil
	}
	le := binary.LittleEndian
	h, err := read(12)
	if err != nil {
		return nil, err
	}
	if string(h[:4]) != galleryFileMagic || le.Uint32(h[4:]) != galleryFileVersion {
		return nil, fmt.Errorf("%w: not a gallery file of version %d", ErrGalleryFile, galleryFileVersion)
	}
	refLen := int(le.Uint32(h[8:]))
	if refLen > 1<<20 {
		return nil, fmt.Errorf("%w: reference of %d bytes", ErrGalleryFile, refLen)
	}
	rb, err := read(refLen)
	if err != nil {
		return nil, err
	}
	ref, err := ParseTemplate(rb)
	if err != nil {
		return nil, fmt.Errorf("%w: reference: %w", ErrGalleryFile, err)
	}
	counts, err := read(16)
	if err != nil {
		return nil, err
	}
	n, nNames := le.Uint64(counts), le.Uint64(counts[8:])
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if n > uint64(st.Size())/entryFileSize || nNames > uint64(st.Size())/2 || nNames > 1<<31 {
		return nil, fmt.Errorf("%w: %d templates, %d subjects", ErrGalleryFile, n, nNames)
	}
	gl := NewGallery(opts)
	gl.setRef(ref)
	keep := int(n)
	if limit > 0 && limit < keep {
		keep = limit
	}
	gl.entries = make([]entry, 0, keep)
	for i := 0; i < int(n); i++ {
		b, err := read(entryFileSize)
		if err != nil {
			return nil, err
		}
		if i >= keep {
			continue
		}
		e := entry{subj: int32(le.Uint32(b)), finger: b[4], rep: b[5] == 1, ones0: int32(le.Uint32(b[8:])), ones1: int32(le.Uint32(b[12:])), ones2: int32(le.Uint32(b[16:]))}
		if e.subj < 0 || uint64(e.subj) >= nNames || e.finger > 10 {
			return nil, fmt.Errorf("%w: entry %d", ErrGalleryFile, i)
		}
		gl.entries = append(gl.entries, e)
	}
	gl.subjName = make([]string, nNames)
	for i := range gl.subjName {
		b, err := read(2)
		if err != nil {
			return nil, err
		}
		name, err := read(int(le.Uint16(b)))
		if err != nil {
			return nil, err
		}
		gl.subjName[i] = string(name)
	}
	// The subjects of the kept templates.
	gl.subjSlots = make([][]int32, nNames)
	for i, e := range gl.entries {
		if gl.subjName[e.subj] == "" {
			return nil, fmt.Errorf("%w: entry %d of a free subject", ErrGalleryFile, i)
		}
		if len(gl.subjSlots[e.subj]) == 0 {
			gl.subjID[gl.subjName[e.subj]] = e.subj
			gl.nSubj++
		}
		gl.subjSlots[e.subj] = append(gl.subjSlots[e.subj], int32(i))
		if e.rep {
			gl.nGroups++
		}
	}
	for i := range gl.subjName {
		if len(gl.subjSlots[i]) == 0 {
			gl.subjName[i] = ""
			gl.freeSubj = append(gl.freeSubj, int32(i))
		}
	}
	dataOff := off + (galleryFileAlign-off%galleryFileAlign)%galleryFileAlign
	chunkBytes := int64(chunkEntries * gl.slotWords * 8)
	nChunks := (int64(n) + chunkEntries - 1) / chunkEntries
	if st.Size() != dataOff+nChunks*chunkBytes {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrGalleryFile, st.Size(), dataOff+nChunks*chunkBytes)
	}
	use := (int64(keep) + chunkEntries - 1) / chunkEntries
	data, err := mapFile(f, dataOff, use*chunkBytes)
	if err != nil {
		return nil, err
	}
	for c := int64(0); c < use; c++ {
		b := data[c*chunkBytes : (c+1)*chunkBytes]
		gl.chunks = append(gl.chunks, unsafe.Slice((*uint64)(unsafe.Pointer(&b[0])), chunkEntries*gl.slotWords))
	}
	return gl, nil
}
