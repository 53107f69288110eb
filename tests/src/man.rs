//! Man pages generated from the tools' clap definitions.
//!
//! A tool with subcommands gets one page per subcommand too (`mnnode-add.1`),
//! as git does. Text after the options (`after_long_help`) is split into
//! sections at unindented lines ending in `:` ("Exit status:" becomes
//! EXIT STATUS) and kept preformatted.
use clap_mangen::Man;

/// Every page for a tool: `(file name, roff source)`.
pub fn pages(cmd: clap::Command) -> Vec<(String, Vec<u8>)> {
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let mut out = Vec::new();
    collect(&cmd, &mut out);
    out
}

fn collect(cmd: &clap::Command, out: &mut Vec<(String, Vec<u8>)>) {
    let name = cmd.get_display_name().unwrap_or_else(|| cmd.get_name()).to_string();
    out.push((format!("{name}.1"), render(cmd)));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let full = format!("{name}-{}", sub.get_name());
        let sub = sub
            .clone()
            .name(full.clone())
            .display_name(full)
            .version(cmd.get_version().unwrap_or("").to_string())
            .bin_name(format!("{} {}", cmd.get_bin_name().unwrap_or_else(|| cmd.get_name()), sub.get_name()));
        collect(&sub, out);
    }
}

fn render(cmd: &clap::Command) -> Vec<u8> {
    let man =
        Man::new(cmd.clone()).manual("mn tools").source(format!("mn tools {}", env!("CARGO_PKG_VERSION")));
    let mut page = Vec::new();
    type Section = fn(&Man, &mut dyn std::io::Write) -> std::io::Result<()>;
    let sections: [Section; 4] = [
        Man::render_title,
        Man::render_name_section,
        Man::render_synopsis_section,
        Man::render_description_section,
    ];
    for section in sections {
        section(&man, &mut page).expect("render to memory");
    }
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut page).expect("render to memory");
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        man.render_subcommands_section(&mut page).expect("render to memory");
    }
    if let Some(after) = cmd.get_after_long_help().or_else(|| cmd.get_after_help()) {
        page.extend(after_sections(&after.to_string()).into_bytes());
    }
    page
}

/// Turns "Heading:\n  text..." blocks into preformatted roff sections.
fn after_sections(text: &str) -> String {
    let mut roff = String::new();
    let mut open = false;
    for line in text.lines() {
        let is_heading = !line.starts_with(' ') && line.ends_with(':') && !line.is_empty();
        if is_heading {
            if open {
                roff.push_str(".fi\n");
            }
            let title = line.trim_end_matches(':').to_uppercase();
            roff.push_str(&format!(".SH \"{title}\"\n.nf\n"));
            open = true;
        } else {
            if !open {
                roff.push_str(".SH NOTES\n.nf\n");
                open = true;
            }
            roff.push_str(&escape(line));
            roff.push('\n');
        }
    }
    if open {
        roff.push_str(".fi\n");
    }
    roff
}

fn escape(line: &str) -> String {
    let body = line.replace('\\', "\\e").replace('-', "\\-");
    if body.starts_with('.') || body.starts_with('\'') { format!("\\&{body}") } else { body }
}
