//! Building an appliance from its template, running it, and recording what was measured.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs the `genpack` binary in `dir` with `env` on top of the test's environment.
pub fn genpack(args: &[&str], dir: &Path, env: &[(&str, &Path)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_genpack"));
    command
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("GENPACK_TEMPLATES", repo_root().join("templates"));
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("the genpack binary runs")
}

/// The stdout of a successful run; a failure shows both streams.
pub fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed:\nstdout:\n{}\nstderr:\n{}",
        tail(&String::from_utf8_lossy(&out.stdout), 60),
        tail(&String::from_utf8_lossy(&out.stderr), 60)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The last `lines` lines of `text`.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A project made from a template and built twice.
pub struct Built {
    /// The template's folder name.
    pub template: String,
    /// The project folder.
    pub project: PathBuf,
    /// The image file.
    pub image: PathBuf,
    /// First build, with an empty package cache.
    pub cold: Duration,
    /// Second build, base layer up to date.
    pub warm: Duration,
    /// Size of the image file.
    pub image_bytes: u64,
    /// Holds the work folder (project, package cache) until the test ends.
    pub work: tempfile::TempDir,
}

/// Where the static boot programs are cached between builds: kept outside the empty package
/// cache so that "cold" means "nothing downloaded yet", not "genpack itself compiled anew".
fn boot_binaries_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("GENPACK_BOOT_BINARIES_DIR") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("genpack").join("boot-binaries")
}

/// `genpack new` from `template`, then `genpack build` twice, as a user would.
pub fn build(template: &str) -> Built {
    let work = tempfile::Builder::new()
        .prefix(&format!("appliance-{template}-"))
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let cache = work.path().join("cache");
    let boot_binaries = boot_binaries_dir();
    let env: [(&str, &Path); 2] = [
        ("XDG_CACHE_HOME", &cache),
        ("GENPACK_BOOT_BINARIES_DIR", &boot_binaries),
    ];
    ok(
        genpack(
            &["new", template, "--template", template],
            work.path(),
            &env,
        ),
        "genpack new",
    );
    let project = work.path().join(template);
    let started = Instant::now();
    ok(
        genpack(&["build", "--arch", "x86_64"], &project, &env),
        "first genpack build",
    );
    let cold = started.elapsed();
    // A rebuild as the gallery estimates it once the base layer is there: one file added under
    // files/, so the stages from `files` on and the pack run again, and nothing else.
    let added = project.join("files/etc/genpack-proof");
    fs::create_dir_all(added.parent().unwrap()).unwrap();
    fs::write(&added, "a file added between the two builds of the proof\n").unwrap();
    let started = Instant::now();
    let second = ok(
        genpack(&["build", "--arch", "x86_64"], &project, &env),
        "second genpack build",
    );
    let warm = started.elapsed();
    assert!(
        second.contains("The base layer was up to date.") && second.contains("Stages run: files,"),
        "the second build did more than the stages after files/:\n{}",
        tail(&second, 40)
    );
    let image = project.join(format!("{template}-x86_64.squashfs"));
    let image_bytes = fs::metadata(&image)
        .unwrap_or_else(|e| panic!("no image at {}: {e}", image.display()))
        .len();
    eprintln!(
        "{template}: first build {:.0} s, second {:.0} s, image {} MiB",
        cold.as_secs_f64(),
        warm.as_secs_f64(),
        image_bytes >> 20
    );
    Built {
        template: template.to_string(),
        project,
        image,
        cold,
        warm,
        image_bytes,
        work,
    }
}

/// Writes the template's own system.ini with `hostname` replaced and `extra` lines added,
/// so the appliance boots with the settings a user would start from.
pub fn system_ini(built: &Built, hostname: &str, extra: &str) -> PathBuf {
    let template = fs::read_to_string(built.project.join("system.ini")).unwrap();
    let mut text: String = template
        .lines()
        .map(|line| {
            if line.starts_with("hostname =") {
                format!("hostname = {hostname}\n")
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    assert!(
        text.contains(&format!("hostname = {hostname}\n")),
        "the template's system.ini sets no hostname"
    );
    // Settings go before any [section] header: the templates keep keys in the default section.
    text.push_str(extra);
    let path = built.work.path().join("proof-system.ini");
    fs::write(&path, text).unwrap();
    path
}

/// A VM started with `genpack vm run --detach`, stopped when dropped.
pub struct Vm {
    pub name: String,
    dir: PathBuf,
    pub console_log: PathBuf,
    pub started: Instant,
}

impl Vm {
    /// Boots `built`'s image with `ini` and user-mode networking forwarding `forwards`
    /// (`[udp:]HOSTPORT:GUESTPORT`).
    pub fn run(built: &Built, ini: &Path, memory_mib: u32, forwards: &[String]) -> Vm {
        Vm::run_with(built, ini, memory_mib, forwards, None)
    }

    /// Like [`Vm::run`], with `append` added to the kernel command line.
    pub fn run_with(
        built: &Built,
        ini: &Path,
        memory_mib: u32,
        forwards: &[String],
        append: Option<&str>,
    ) -> Vm {
        let name = format!("proof-{}-{}", built.template, std::process::id());
        let memory = memory_mib.to_string();
        let mut args = vec![
            "vm",
            "run",
            built.image.to_str().unwrap(),
            "--name",
            &name,
            "--system-ini",
            ini.to_str().unwrap(),
            "-m",
            &memory,
            "--detach",
        ];
        for forward in forwards {
            args.extend(["--forward", forward.as_str()]);
        }
        if let Some(append) = append {
            args.extend(["--append", append]);
        }
        let started = Instant::now();
        ok(genpack(&args, &built.project, &[]), "genpack vm run");
        let mut vm = Vm {
            name: name.clone(),
            dir: built.project.clone(),
            console_log: PathBuf::new(),
            started,
        };
        let shown: serde_json::Value = serde_json::from_str(&ok(
            genpack(&["vm", "show", &name], &vm.dir, &[]),
            "vm show",
        ))
        .unwrap();
        let runtime = PathBuf::from(shown["runtime_dir"].as_str().unwrap());
        vm.console_log = runtime.join("console.log");
        vm
    }

    /// What the serial console printed so far.
    pub fn console(&self) -> String {
        fs::read_to_string(&self.console_log).unwrap_or_default()
    }

    /// Waits until the serial console shows `needle`; returns the console text.
    pub fn wait_for_console(&self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.console();
            if text.contains(needle) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "{needle:?} not on the serial console after {timeout:?}:\n{}",
                tail(&text, 60)
            );
            std::thread::sleep(Duration::from_secs(2));
        }
    }

    /// Saves the screen as PNG with `genpack vm screenshot` and returns its pixels.
    pub fn screenshot(&self, out: &Path) -> Screen {
        ok(
            genpack(
                &["vm", "screenshot", &self.name, "-o", out.to_str().unwrap()],
                &self.dir,
                &[],
            ),
            "genpack vm screenshot",
        );
        Screen::load(out)
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = genpack(&["vm", "stop", "-f", &self.name], &self.dir, &[]);
    }
}

/// A screenshot's pixels (RGB), row by row.
pub struct Screen {
    pub rgb: Vec<[u8; 3]>,
    pub width: usize,
}

impl Screen {
    /// Decodes a PNG file.
    pub fn load(path: &Path) -> Screen {
        let decoder = png::Decoder::new(std::io::BufReader::new(fs::File::open(path).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let frame = reader.next_frame(&mut pixels).unwrap();
        let channels = frame.color_type.samples();
        let rgb = pixels[..frame.buffer_size()]
            .chunks(channels)
            .map(|p| [p[0], p[1], p[2]])
            .collect();
        Screen {
            rgb,
            width: frame.width as usize,
        }
    }

    /// How many different colours appear.
    pub fn distinct_colours(&self) -> usize {
        let mut colours: Vec<[u8; 3]> = self.rgb.clone();
        colours.sort_unstable();
        colours.dedup();
        colours.len()
    }

    /// The share of pixels within `tolerance` (per channel) of `colour`.
    pub fn share_of(&self, colour: [u8; 3], tolerance: u8) -> f64 {
        let near = self
            .rgb
            .iter()
            .filter(|p| (0..3).all(|i| p[i].abs_diff(colour[i]) <= tolerance))
            .count();
        near as f64 / self.rgb.len().max(1) as f64
    }

    /// Whether a solid black rectangle of at least `width` x `height` pixels is on the screen
    /// (an application's empty video canvas; wallpapers and window themes are never pure
    /// black over such an area).
    pub fn has_black_rectangle(&self, width: usize, height: usize) -> bool {
        let black = |p: &[u8; 3]| p.iter().all(|c| *c <= 2);
        // For each column, how many black pixels end at the current row.
        let mut depth = vec![0usize; self.width];
        for row in self.rgb.chunks(self.width.max(1)) {
            let mut run = 0;
            for (x, pixel) in row.iter().enumerate() {
                depth[x] = if black(pixel) { depth[x] + 1 } else { 0 };
                run = if depth[x] >= height { run + 1 } else { 0 };
                if run >= width {
                    return true;
                }
            }
        }
        false
    }
}

/// Calls `probe` every few seconds until it succeeds or `timeout` passes; the panic message
/// carries the last failure.
pub fn eventually<T>(
    timeout: Duration,
    what: &str,
    mut probe: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match probe() {
            Ok(value) => return value,
            Err(last) => {
                // A missing program will not appear by waiting.
                assert!(
                    !last.starts_with("cannot run") && !last.contains("failed: No such file"),
                    "{what}: {last}"
                );
                assert!(
                    Instant::now() < deadline,
                    "{what}: still failing after {timeout:?}: {last}"
                );
            }
        }
        std::thread::sleep(Duration::from_secs(3));
    }
}

/// What one appliance run measured, for docs/appliances.md and the template's card.
pub struct Measurement {
    pub cold: Duration,
    pub warm: Duration,
    pub image_bytes: u64,
    pub boot_to_service: Duration,
    pub proof: String,
}

/// Records the outcome of one appliance when `GENPACK_RECORD_APPLIANCES=1` (set by
/// `make test-appliances`): on success the numbers go into the template's `measured` block,
/// a row of docs/appliances.md and the screenshot into docs/img/; when the test fails before
/// [`Recorder::passed`], the row says so.
pub struct Recorder {
    template: String,
    proof: String,
    done: bool,
}

static RECORD_LOCK: Mutex<()> = Mutex::new(());

impl Recorder {
    /// Starts recording `template`, whose proof is described as `proof`.
    pub fn new(template: &str, proof: &str) -> Recorder {
        Recorder {
            template: template.to_string(),
            proof: proof.to_string(),
            done: false,
        }
    }

    fn enabled() -> bool {
        std::env::var_os("GENPACK_RECORD_APPLIANCES").is_some_and(|v| v == "1")
    }

    /// Records a passed run with its screenshot.
    pub fn passed(mut self, measurement: &Measurement, screenshot: &Path) {
        self.done = true;
        eprintln!(
            "{}: passed; boot to service {:.0} s",
            self.template,
            measurement.boot_to_service.as_secs_f64()
        );
        if !Self::enabled() {
            return;
        }
        let _guard = RECORD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let root = repo_root();
        fs::copy(
            screenshot,
            root.join(format!("docs/img/appliance-{}.png", self.template)),
        )
        .unwrap();
        let date = today();
        let cold = measurement.cold.as_secs() as u32;
        let warm = measurement.warm.as_secs() as u32;
        let image_mib = measurement.image_bytes.div_ceil(1 << 20) as u32;
        let boot = measurement.boot_to_service.as_secs() as u32;
        update_template(&root, &self.template, cold, warm, image_mib, boot, &date);
        let row = format!(
            "| {} | pass | {date} | {} | {} | {image_mib} MiB | {} | {} |",
            self.template,
            minutes(cold),
            minutes(warm),
            minutes(boot),
            measurement.proof
        );
        update_results_row(&root, &self.template, &row);
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if self.done || !Self::enabled() {
            return;
        }
        let _guard = RECORD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let row = format!(
            "| {} | **FAIL** | {} | | | | | {} (see the test log) |",
            self.template,
            today(),
            self.proof
        );
        update_results_row(&repo_root(), &self.template, &row);
    }
}

/// `3 min 05 s` or `41 s`.
fn minutes(seconds: u32) -> String {
    if seconds >= 60 {
        format!("{} min {:02} s", seconds / 60, seconds % 60)
    } else {
        format!("{seconds} s")
    }
}

/// Today's date (UTC) as `YYYY-MM-DD`.
fn today() -> String {
    let out = Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Sets `measured` in templates/<template>/template.json5, keeping its comments and layout.
fn update_template(
    root: &Path,
    template: &str,
    cold: u32,
    warm: u32,
    image_mib: u32,
    boot: u32,
    date: &str,
) {
    let path = root.join("templates").join(template).join("template.json5");
    let text = fs::read_to_string(&path).unwrap();
    let mut document = genpack_def::Document::parse(&text).unwrap();
    document
        .set(
            &["measured".into()],
            serde_json::json!({
                "build_cold_s": cold,
                "build_warm_s": warm,
                "image_mib": image_mib,
                "boot_to_service_s": boot,
                "date": date,
            }),
        )
        .unwrap();
    document
        .set(&["size".into()], format!("{image_mib} MiB").into())
        .unwrap();
    write_atomic(&path, document.as_str());
}

/// Replaces (or adds) the row of `template` in the results table of docs/appliances.md.
fn update_results_row(root: &Path, template: &str, row: &str) {
    let path = root.join("docs/appliances.md");
    let text = fs::read_to_string(&path).unwrap();
    let start = text
        .find(RESULTS_START)
        .expect("docs/appliances.md has the results markers");
    let end = text.find(RESULTS_END).expect("results end marker");
    let table = &text[start + RESULTS_START.len()..end];
    let prefix = format!("| {template} |");
    let mut lines: Vec<String> = table
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    match lines.iter().position(|l| l.starts_with(&prefix)) {
        Some(i) => lines[i] = row.to_string(),
        None => lines.push(row.to_string()),
    }
    let (head, body) = lines.split_at(2.min(lines.len()));
    let mut body = body.to_vec();
    body.sort();
    let new_table = head
        .iter()
        .chain(body.iter())
        .map(|l| format!("{l}\n"))
        .collect::<String>();
    let updated = format!(
        "{}{RESULTS_START}\n{new_table}{}",
        &text[..start],
        &text[end..]
    );
    write_atomic(&path, &updated);
}

const RESULTS_START: &str = "<!-- results: written by make test-appliances -->";
const RESULTS_END: &str = "<!-- end of results -->";

fn write_atomic(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    let mut file = fs::File::create(&tmp).unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file.sync_all().unwrap();
    fs::rename(&tmp, path).unwrap();
}

#[test]
fn a_black_rectangle_is_found_only_when_it_is_big_enough() {
    // A grey 40 x 30 screen with a black 12 x 8 block at (20, 10), one pixel of it grey.
    let (width, height) = (40, 30);
    let mut rgb = vec![[36u8, 36, 36]; width * height];
    for y in 10..18 {
        for x in 20..32 {
            rgb[y * width + x] = [0, 0, 0];
        }
    }
    let screen = Screen { rgb, width };
    assert!(screen.has_black_rectangle(12, 8));
    assert!(screen.has_black_rectangle(10, 5));
    assert!(!screen.has_black_rectangle(13, 8));
    assert!(!screen.has_black_rectangle(12, 9));
    let mut rgb = screen.rgb.clone();
    rgb[14 * width + 25] = [36, 36, 36];
    let holed = Screen { rgb, width };
    assert!(!holed.has_black_rectangle(12, 8));
    assert!(holed.has_black_rectangle(6, 8));
}
