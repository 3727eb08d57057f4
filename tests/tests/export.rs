//! Exports and imports through the API and the command line: round trips, PDF text, PNG
//! pixels, CSV rows, the OpenDocument report, the contribution record, and bad requests.

use nouage_tests::{
    Board, TempDir, TestServer, YClient, board_from, create_board, export_bytes, http,
    import_board, join, keep_artifact, odt_parts, pdf_text, xml_unescape,
};
use shared::Roots;
use shared::portfolio::Project;
use yrs::Transact;

const BRANCHES: [&str; 6] = [
    "Mobilités douces",
    "Santé et accès aux soins",
    "Économie locale & circuits courts",
    "Culture, patrimoine et « vivre-ensemble »",
    "Énergie et rénovation thermique",
    "Jeunesse, éducation et formation tout au long de la vie",
];

/// A 100-node map: six branches, each with children and grandchildren, accents everywhere.
fn write_map(client: &YClient, roots: &Roots) -> Vec<String> {
    let mut texts = vec!["Projet de territoire 2030".to_owned()];
    client.edit(|txn| {
        let root = shared::doc::child_text(&roots.nodes, txn, "root", "text").unwrap();
        shared::doc::edit_text(txn, &root, "Projet de territoire 2030");
        let mut n = 0;
        for (b, branch) in BRANCHES.iter().enumerate() {
            let branch_id = format!("b{b}");
            roots.add_node(txn, &branch_id, Some("root"), b as f64, branch, "p-anne");
            texts.push((*branch).to_owned());
            for c in 0..4 {
                let child_id = format!("{branch_id}c{c}");
                let text = format!(
                    "Idée {c} — {} à Saint-Étienne-de-Lugdarès",
                    branch.chars().take(8).collect::<String>().trim_end()
                );
                roots.add_node(txn, &child_id, Some(&branch_id), c as f64, &text, "p-anne");
                texts.push(text);
                n += 1;
                for g in 0..3 {
                    if texts.len() == 100 {
                        break;
                    }
                    let text = format!("Détail n°{n}.{g} : élu·es, bénévoles");
                    roots.add_node(
                        txn,
                        &format!("{child_id}g{g}"),
                        Some(&child_id),
                        g as f64,
                        &text,
                        "p-anne",
                    );
                    texts.push(text);
                }
            }
        }
    });
    texts
}

async fn export_text(server: &TestServer, board: &Board, format: &str) -> String {
    let (status, bytes) = export_bytes(&server.base, board, format).await;
    assert_eq!(status, 200, "{format}: {}", String::from_utf8_lossy(&bytes));
    String::from_utf8(bytes).unwrap()
}

#[tokio::test]
async fn a_mind_map_exports_to_every_format_and_imports_back_as_the_same_tree() {
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let board = create_board(&server.base, "mindmap", "Projet de territoire").await;
    let (anne, roots) = join(
        &server,
        &board,
        "p-anne",
        "Anne",
        "Commune de Lodève",
        "commune",
    )
    .await;
    let texts = write_map(&anne, &roots);
    assert_eq!(texts.len(), 100);
    let viewer = YClient::connect(&server.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    let viewer_roots = Roots::new(viewer.doc());
    viewer
        .wait_until(|doc| viewer_roots.nodes(&doc.transact()).len() == 100)
        .await
        .unwrap();

    // Markdown, OPML, FreeMind and the Yjs binary: export, import, export again.
    let markdown = export_text(&server, &board, "md").await;
    assert!(
        markdown.starts_with("# Projet de territoire 2030\n"),
        "{markdown}"
    );
    for text in &texts {
        assert!(
            markdown.contains(text.as_str()),
            "{text} missing from the Markdown"
        );
    }
    assert!(
        markdown.contains("\n- Mobilités douces\n  - Idée 0 — Mobilité à Saint-Étienne-de-Lugdarès\n    - Détail n°1.0 : élu·es, bénévoles\n"),
        "{markdown}"
    );
    for format in ["md", "opml", "mm", "yjs"] {
        let (status, bytes) = export_bytes(&server.base, &board, format).await;
        assert_eq!(status, 200);
        let (status, answer) = import_board(&server.base, format, bytes).await;
        assert_eq!(status, 201, "import {format}: {answer}");
        assert_eq!(answer["kind"], "mindmap");
        let imported = board_from(&answer);
        let again = export_text(&server, &imported, "md").await;
        assert_eq!(again, markdown, "{format} round trip changed the tree");
    }

    // SVG and PDF hold every node as text; the PNG is the drawing's size and not blank.
    let svg = export_text(&server, &board, "svg").await;
    for text in &texts {
        let escaped = text.replace('&', "&amp;").replace('\'', "&apos;");
        assert!(
            svg.contains(&escaped) || svg_words_present(&svg, text),
            "{text} missing from the SVG"
        );
    }
    let (status, pdf) = export_bytes(&server.base, &board, "pdf").await;
    assert_eq!(status, 200);
    assert!(pdf.starts_with(b"%PDF-"));
    keep_artifact("map-100-nodes.pdf", &pdf);
    if let Some(text) = pdf_text(&pdf) {
        for node in &texts {
            assert!(
                text.contains(node.as_str()),
                "{node} missing from the PDF text:\n{text}"
            );
        }
    }
    let (status, png) = export_bytes(&server.base, &board, "png").await;
    assert_eq!(status, 200);
    keep_artifact("map-100-nodes.png", &png);
    let (width, height, ink) = png_facts(&png);
    let svg_size = |attr: &str| -> u32 {
        let start = svg.find(&format!("{attr}=\"")).unwrap() + attr.len() + 2;
        svg[start..].split('"').next().unwrap().parse().unwrap()
    };
    assert_eq!((width, height), (svg_size("width"), svg_size("height")));
    assert!(
        ink > 0.02,
        "the PNG is almost blank ({ink:.3} of its pixels are not white)"
    );

    // The meeting report is an OpenDocument package holding every node.
    let (status, odt) = export_bytes(&server.base, &board, "odt").await;
    assert_eq!(status, 200);
    keep_artifact("map-100-nodes.odt", &odt);
    let (mimetype, content) = odt_parts(&odt);
    assert_eq!(mimetype, "application/vnd.oasis.opendocument.text");
    for text in &texts {
        assert!(
            xml_unescape(&content).contains(text.as_str()),
            "{text} missing from the report"
        );
    }
    server.stop().await;
}

/// Whether every word of `text` appears in `svg` (a node's text wraps over several lines).
fn svg_words_present(svg: &str, text: &str) -> bool {
    let svg = xml_unescape(svg);
    text.split_whitespace().all(|w| svg.contains(w))
}

/// Width, height and the share of pixels that are not white.
fn png_facts(png: &[u8]) -> (u32, u32, f64) {
    let decoder = png::Decoder::new(std::io::Cursor::new(png));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).unwrap();
    let channels = info.color_type.samples();
    let data = &pixels[..info.buffer_size()];
    let inked = data
        .chunks(channels)
        .filter(|px| px.iter().take(3).any(|c| *c < 240))
        .count();
    (
        info.width,
        info.height,
        inked as f64 / (info.width * info.height) as f64,
    )
}

#[tokio::test]
async fn a_canvas_exports_its_notes_with_their_recorded_authors_and_votes() {
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let board = create_board(&server.base, "diagnosis", "Diagnostic partagé").await;
    let (anne, anne_roots) = join(
        &server,
        &board,
        "p-anne",
        "Anne",
        "Commune de Lodève",
        "commune",
    )
    .await;
    let (zoe, zoe_roots) = join(
        &server,
        &board,
        "p-zoe",
        "Zoé",
        "Association Vélo Vert",
        "commune",
    )
    .await;
    anne.edit(|txn| {
        anne_roots.add_note(
            txn,
            "n1",
            "s1",
            "Peu de transports le dimanche",
            "#fde68a",
            "p-anne",
        );
        anne_roots.add_note(
            txn,
            "n2",
            "s2",
            "Une forte vie associative, « très » active",
            "",
            "p-anne",
        );
    });
    // Zoé writes Anne's pid as the author of her note: exports print Zoé.
    zoe.edit(|txn| {
        zoe_roots.add_note(
            txn,
            "n3",
            "s1",
            "Pistes cyclables interrompues à l'entrée du bourg",
            "#bfdbfe",
            "p-anne",
        );
    });
    zoe.wait_until(|doc| zoe_roots.notes(&doc.transact()).len() == 3)
        .await
        .unwrap();
    zoe.edit(|txn| {
        zoe_roots.set_vote(txn, "n1", "p-zoe", 2);
        zoe_roots.set_vote(txn, "n3", "p-zoe", 1);
        // Reactions, in the documented shape: one of each per participant.
        shared::reactions::toggle(&zoe_roots.reactions, txn, "n1", "p-zoe", "👍");
        shared::reactions::toggle(&zoe_roots.reactions, txn, "n1", "p-zoe", "💡");
    });
    anne.edit(|txn| {
        shared::reactions::toggle(&anne_roots.reactions, txn, "n1", "p-anne", "👍");
    });
    let viewer = YClient::connect(&server.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    let viewer_roots = Roots::new(viewer.doc());
    viewer
        .wait_until(|doc| {
            viewer_roots
                .vote_totals(&doc.transact())
                .values()
                .sum::<i64>()
                == 3
                && shared::reactions::tallies(&viewer_roots.reactions, &doc.transact(), "")
                    .get("n1")
                    .is_some_and(|t| t.total() == 3)
        })
        .await
        .unwrap();

    let csv_text = export_text(&server, &board, "csv").await;
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "section",
            "text",
            "author",
            "organisation",
            "votes",
            "created",
            "reactions",
            "entered_by"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3, "{csv_text}");
    let row = |text: &str| {
        rows.iter()
            .find(|r| &r[1] == text)
            .unwrap_or_else(|| panic!("{text} in {csv_text}"))
    };
    let n3 = row("Pistes cyclables interrompues à l'entrée du bourg");
    assert_eq!(
        (&n3[2], &n3[3], &n3[4]),
        ("Zoé", "Association Vélo Vert", "1")
    );
    let n1 = row("Peu de transports le dimanche");
    assert_eq!((&n1[2], &n1[4]), ("Anne", "2"));
    assert!(n1[5].ends_with(" UTC"), "created: {}", &n1[5]);
    assert_eq!(&n1[6], "👍 2 💡 1", "reactions of Anne and Zoé");
    assert_eq!(&n3[6], "", "no reactions");
    let markdown = export_text(&server, &board, "md").await;
    assert!(
        markdown.contains(
            "Peu de transports le dimanche — Anne (Commune de Lodève) · 2 votes · 👍 2 💡 1"
        ),
        "{markdown}"
    );
    assert_eq!(&n1[0], &n3[0], "both notes are in the first section");

    let (status, pdf) = export_bytes(&server.base, &board, "pdf").await;
    assert_eq!(status, 200);
    keep_artifact("diagnosis.pdf", &pdf);
    if let Some(text) = pdf_text(&pdf) {
        for expected in [
            "Peu de transports le dimanche",
            "Zoé (Association Vélo Vert)",
            "Anne (Commune de Lodève)",
            "2 votes",
            "Bonne idée 1",
        ] {
            assert!(
                text.contains(expected),
                "{expected} missing from the canvas PDF:\n{text}"
            );
        }
    }
    let (status, png) = export_bytes(&server.base, &board, "png").await;
    assert_eq!(status, 200);
    keep_artifact("diagnosis.png", &png);
    assert!(png_facts(&png).2 > 0.02);

    // The contribution record names both participants and what they did.
    let record = export_text(&server, &board, "record-md").await;
    assert!(
        record.contains("| Zoé | Association Vélo Vert |"),
        "{record}"
    );
    assert!(record.contains("| Anne | Commune de Lodève |"), "{record}");
    assert!(
        record.contains("« Pistes cyclables interrompues à l'entrée du bourg »"),
        "{record}"
    );
    let (status, record_pdf) = export_bytes(&server.base, &board, "record-pdf").await;
    assert_eq!(status, 200);
    keep_artifact("diagnosis-record.pdf", &record_pdf);
    if let Some(text) = pdf_text(&record_pdf) {
        assert!(text.contains("Trace des contributions"), "{text}");
        assert!(
            text.contains("Zoé") && text.contains("Association Vélo Vert"),
            "{text}"
        );
    }

    let (_, odt) = export_bytes(&server.base, &board, "odt").await;
    keep_artifact("diagnosis-report.odt", &odt);
    let content = xml_unescape(&odt_parts(&odt).1);
    for expected in [
        "Peu de transports le dimanche",
        "Association Vélo Vert",
        "Une forte vie associative, « très » active",
    ] {
        assert!(
            content.contains(expected),
            "{expected} missing from the report"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn a_portfolio_exports_every_project_field() {
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let board = create_board(&server.base, "portfolio", "Projets coopératifs").await;
    let (anne, roots) = join(
        &server,
        &board,
        "p-anne",
        "Anne",
        "Communauté de communes",
        "commune",
    )
    .await;
    let projects: Vec<Project> = (0..12)
        .map(|i| Project {
            id: format!("p{i}"),
            title: format!("Projet n°{i} : maison de santé pluriprofessionnelle"),
            description: "Un lieu partagé par les professionnels de santé du territoire, ouvert aux associations.".repeat(1 + i % 3),
            stage: shared::portfolio::STAGES[i % 6].to_owned(),
            status: "en cours".into(),
            lead_mode: "colead".into(),
            lead: "Commune de Lodève".into(),
            partners: vec!["ARS".into(), "Département".into()],
            budget: format!("{} 000 €", 100 + i),
            next_step: "Comité de pilotage".into(),
            due_date: "2027-03-01".into(),
            ..Project::default()
        })
        .collect();
    anne.edit(|txn| {
        for p in &projects {
            roots.add_project(txn, &p.id, p);
        }
    });
    let viewer = YClient::connect(&server.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    let viewer_roots = Roots::new(viewer.doc());
    viewer
        .wait_until(|doc| viewer_roots.projects(&doc.transact()).len() == 12)
        .await
        .unwrap();
    let csv_text = export_text(&server, &board, "csv").await;
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 12);
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let p7 = rows.iter().find(|r| &r[column("id")] == "p7").unwrap();
    assert_eq!(&p7[column("budget")], "107 000 €");
    assert_eq!(&p7[column("partners")], "ARS; Département");
    assert_eq!(&p7[column("stage")], "codesign");
    assert_eq!(&p7[column("author")], "Anne");

    let (status, pdf) = export_bytes(&server.base, &board, "pdf").await;
    assert_eq!(status, 200);
    keep_artifact("portfolio.pdf", &pdf);
    if let Some(text) = pdf_text(&pdf) {
        for p in &projects {
            assert!(text.contains(&p.title), "{} missing from the PDF", p.title);
        }
        assert!(
            text.contains("Co-élaborer") && text.contains("Page 2 /"),
            "{text}"
        );
    }
    let (status, png) = export_bytes(&server.base, &board, "png").await;
    assert_eq!(status, 200);
    keep_artifact("portfolio-columns.png", &png);
    assert!(png_facts(&png).2 > 0.02);
    let md = export_text(&server, &board, "md").await;
    assert!(
        md.contains("## Co-financer") && md.contains("- **Budget** : 102 000 €"),
        "{md}"
    );
    server.stop().await;
}

#[tokio::test]
async fn bad_export_and_import_requests_get_clear_errors_and_create_nothing() {
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let board = create_board(&server.base, "mindmap", "Carte").await;
    let get = |url: String, token: &'static str| async move {
        let response = http().get(url).bearer_auth(token).send().await.unwrap();
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap();
        (
            status,
            body["error"].as_str().unwrap_or_default().to_owned(),
        )
    };
    let viewer: &'static str = Box::leak(board.viewer.clone().into_boxed_str());
    let url = |format: &str| {
        format!(
            "{}/api/boards/{}/export?format={format}",
            server.base, board.id
        )
    };
    let (status, error) = get(url("csv"), viewer).await;
    assert_eq!(status, 400);
    assert!(
        error.contains("cannot be exported as csv") && error.contains("opml"),
        "{error}"
    );
    let (status, error) = get(url("docx"), viewer).await;
    assert_eq!(
        (status, error.contains("unknown format")),
        (400, true),
        "{error}"
    );
    let (status, _) = get(url("pdf"), "wrong-token").await;
    assert_eq!(status, 401);
    let (status, _) = get(
        format!("{}/api/boards/nosuchboard/export?format=pdf", server.base),
        viewer,
    )
    .await;
    assert_eq!(status, 404);

    let boards_before = nouage_tests::db_count(dir.path(), "SELECT count(*) FROM boards");
    for (format, body) in [
        ("yjs", b"\xff\x00garbage".to_vec()),
        ("opml", b"<opml><body><outline text=\"a\">".to_vec()),
        (
            "mm",
            b"<!DOCTYPE map [<!ENTITY x \"xxxxxxxx\">]><map><node TEXT=\"&x;\"/></map>".to_vec(),
        ),
        ("md", vec![0xc3, 0x28]),
        ("docx", b"# a".to_vec()),
    ] {
        let (status, answer) = import_board(&server.base, format, body).await;
        assert_eq!(status, 400, "{format}: {answer}");
        assert!(!answer["error"].as_str().unwrap_or_default().is_empty());
    }
    let huge_outline = (0..20_001).map(|i| format!("- n{i}\n")).collect::<String>();
    let (status, answer) = import_board(&server.base, "md", huge_outline.into_bytes()).await;
    assert_eq!(status, 400);
    assert!(
        answer["error"].as_str().unwrap().contains("at most 20000"),
        "{answer}"
    );
    assert_eq!(
        nouage_tests::db_count(dir.path(), "SELECT count(*) FROM boards"),
        boards_before
    );
    server.stop().await;
}

#[tokio::test]
async fn the_command_line_exports_what_the_api_exports_while_the_server_runs() {
    if !nouage_tests::binary_ready() {
        return;
    }
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let board = create_board(&server.base, "mindmap", "Carte des mobilités").await;
    let (anne, roots) = join(&server, &board, "p-anne", "Anne", "Commune", "commune").await;
    anne.edit(|txn| roots.add_node(txn, "n1", Some("root"), 1.0, "Navette électrique", "p-anne"));
    let viewer = YClient::connect(&server.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    let viewer_roots = Roots::new(viewer.doc());
    viewer
        .wait_until(|doc| viewer_roots.nodes(&doc.transact()).len() == 2)
        .await
        .unwrap();
    let api = export_text(&server, &board, "opml").await;
    let out = dir.path().join("carte.opml");
    let output = std::process::Command::new(nouage_tests::nouage_binary())
        .args(["export", &board.id, "--format", "opml", "--out"])
        .arg(&out)
        .arg("--data")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), api);
    let refused = std::process::Command::new(nouage_tests::nouage_binary())
        .args(["export", &board.id, "--format", "csv", "--out"])
        .arg(dir.path().join("x.csv"))
        .arg("--data")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("cannot be exported as csv"));
    server.stop().await;
}

#[tokio::test]
async fn a_mind_maps_pdf_prints_each_ideas_reactions_in_words() {
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let board = create_board(&server.base, "mindmap", "Carte réactions").await;
    let (anne, roots) = join(&server, &board, "p-anne", "Anne", "Lodève", "commune").await;
    anne.edit(|txn| {
        roots.add_node(
            txn,
            "n1",
            Some("root"),
            1.0,
            "Une navette le samedi",
            "p-anne",
        );
        roots.add_node(txn, "n2", Some("root"), 2.0, "Un marché", "p-anne");
        for pid in ["p-anne", "p-bruno"] {
            shared::reactions::toggle(&roots.reactions, txn, "n1", pid, "👍");
        }
        shared::reactions::toggle(&roots.reactions, txn, "n1", "p-bruno", "💡");
    });
    let viewer = YClient::connect(&server.ws_base(), &board.id, &board.viewer)
        .await
        .unwrap();
    let viewer_roots = Roots::new(viewer.doc());
    viewer
        .wait_until(|doc| {
            shared::reactions::tallies(&viewer_roots.reactions, &doc.transact(), "")
                .get("n1")
                .is_some_and(|t| t.total() == 3)
        })
        .await
        .unwrap();
    let (status, pdf) = export_bytes(&server.base, &board, "pdf").await;
    assert_eq!(status, 200);
    keep_artifact("map-reactions.pdf", &pdf);
    if let Some(text) = pdf_text(&pdf) {
        let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            flat.contains("Une navette le samedi D'accord 2 · Bonne idée 1"),
            "{flat}"
        );
        assert!(!flat.contains("Un marché D'accord"), "{flat}");
    }
}
