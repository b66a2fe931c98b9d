//! The real `merchant-desk-cli` binary, run as a user would.

#![allow(clippy::unwrap_used)] // test helpers fail loudly by design

use std::io::Write;
use std::process::{Command, Output, Stdio};

const DOC_KEY: &str = "192006250b4c09247ec02edce69f6a2d";
const DOC_PARAMS: [&str; 5] = [
    "appid=wxd930ea5d5a258f4f",
    "mch_id=10000100",
    "device_info=1000",
    "body=test",
    "nonce_str=ibuaiVcKdpRxkhJA",
];

fn run(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_merchant-desk-cli"))
        .args(args)
        .env_remove("WXPAY_API_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

#[test]
fn sign_reproduces_the_documented_signatures() {
    let mut args = vec!["sign", "--key", DOC_KEY];
    args.extend(DOC_PARAMS);
    let md5 = run(&args, "");
    assert!(md5.status.success(), "{}", stderr(&md5));
    assert_eq!(stdout(&md5), "9A0A8659F005D6984697E2CA0A9CF3B7\n");

    args.extend(["--sign-type", "HMAC-SHA256"]);
    let hmac = run(&args, "");
    assert_eq!(
        stdout(&hmac),
        "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6\n"
    );
}

#[test]
fn sign_takes_the_key_from_the_environment_and_shows_the_string() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_merchant-desk-cli"));
    command
        .args(["sign", "--show-string"])
        .args(DOC_PARAMS)
        .env("WXPAY_API_KEY", DOC_KEY);
    let output = command.output().unwrap();
    assert_eq!(stdout(&output), "9A0A8659F005D6984697E2CA0A9CF3B7\n");
    assert_eq!(
        stderr(&output),
        "appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA&key=<API key>\n"
    );
    assert!(
        !stderr(&output).contains(DOC_KEY),
        "the key is never printed"
    );
}

#[test]
fn sign_refuses_bad_input_clearly() {
    let cases: [(&[&str], &str); 5] = [
        (
            &["sign", "--key", DOC_KEY, "appid"],
            "error: parameter \"appid\" is not of the form name=value\n",
        ),
        (
            &["sign", "--key", DOC_KEY, "a=1", "a=2"],
            "error: parameter \"a\" is given twice\n",
        ),
        (
            &["sign", "--key", DOC_KEY],
            "error: no parameters to sign: pass them as name=value\n",
        ),
        (
            &["sign", "--key", "", "a=1"],
            "error: the API key is empty: copy the API v2 key from 商户平台 → 账户中心 → API安全\n",
        ),
        (
            &[
                "sign",
                "--key",
                DOC_KEY,
                "--sign-type",
                "MD5",
                "sign_type=HMAC-SHA256",
            ],
            "error: --sign-type is MD5 but the parameters say sign_type=HMAC-SHA256; they must agree\n",
        ),
    ];
    for (args, message) in cases {
        let output = run(args, "");
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert_eq!(stderr(&output), message, "{args:?}");
        assert!(stdout(&output).is_empty());
    }
    let output = run(
        &["sign", "--key", DOC_KEY, "--sign-type", "SHA1", "a=1"],
        "",
    );
    assert_eq!(output.status.code(), Some(2), "usage errors exit 2");
    assert!(stderr(&output).contains("expected MD5 or HMAC-SHA256"));
}

#[test]
fn verify_checks_a_message_from_stdin() {
    let body = "<xml><appid>wxd930ea5d5a258f4f</appid><mch_id>10000100</mch_id><device_info>1000</device_info><body>test</body><nonce_str>ibuaiVcKdpRxkhJA</nonce_str><sign>9A0A8659F005D6984697E2CA0A9CF3B7</sign></xml>";
    let output = run(&["verify", "--key", DOC_KEY], body);
    assert_eq!(stdout(&output), "valid MD5 signature\n");
    let output = run(
        &["verify", "--key", DOC_KEY],
        &body.replace(">test<", ">tesT<"),
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("the sign does not match the message"),
        "{}",
        stderr(&output)
    );
    let output = run(
        &["verify", "--key", DOC_KEY],
        "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><xml/>",
    );
    assert!(
        stderr(&output).contains("DOCTYPE and entity declarations are refused"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn decrypt_refund_notify_from_xml_or_bare_req_info() {
    let key = wxpay::ApiKey::new(DOC_KEY).unwrap();
    let inner = "<root><out_refund_no><![CDATA[R-1]]></out_refund_no><refund_fee><![CDATA[3960]]></refund_fee><refund_status><![CDATA[SUCCESS]]></refund_status></root>";
    let req_info = wxpay::refund_notify::encrypt_req_info(inner.as_bytes(), &key);
    let expected = "{\n  \"out_refund_no\": \"R-1\",\n  \"refund_fee\": \"3960\",\n  \"refund_status\": \"SUCCESS\"\n}\n";

    let xml = format!(
        "<xml><return_code>SUCCESS</return_code><appid><![CDATA[wxd930ea5d5a258f4f]]></appid><mch_id>10000100</mch_id><req_info><![CDATA[{req_info}]]></req_info></xml>"
    );
    let output = run(&["decrypt-refund-notify", "--key", DOC_KEY], &xml);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), expected);

    let output = run(
        &["decrypt-refund-notify", "--key", DOC_KEY],
        &format!("{req_info}\n"),
    );
    assert_eq!(stdout(&output), expected);

    let output = run(
        &["decrypt-refund-notify", "--key", "another-key"],
        &req_info,
    );
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "error: req_info does not decrypt with this API key (wrong key, or the data was altered)\n"
    );

    let output = run(&["decrypt-refund-notify", "--key", DOC_KEY], "");
    assert!(
        stderr(&output).starts_with("error: standard input is empty"),
        "{}",
        stderr(&output)
    );
    let output = run(
        &["decrypt-refund-notify", "--key", DOC_KEY],
        "<xml><return_code>SUCCESS</return_code></xml>",
    );
    assert_eq!(
        stderr(&output),
        "error: the XML has no req_info field: is it a refund notification?\n"
    );
}

#[test]
fn sim_prints_where_it_runs_and_stops_on_ctrl_c() {
    use std::io::{BufRead, BufReader, Read};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_merchant-desk-cli"))
        .args(["sim", "--data-dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut json = String::new();
    for line in stdout.by_ref().lines() {
        let line = line.unwrap();
        json.push_str(&line);
        if line == "}" {
            break;
        }
    }
    let info: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(
        info["base_url"]
            .as_str()
            .unwrap()
            .starts_with("https://127.0.0.1:"),
        "{info}"
    );
    assert_eq!(info["api_key"].as_str().unwrap().len(), 32);
    for file in ["ca_pem", "cert_p12", "cert_pem", "key_pem"] {
        assert!(
            std::path::Path::new(info["files"][file].as_str().unwrap()).is_file(),
            "{file}"
        );
    }
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("sim.json")).unwrap()).unwrap();
    assert_eq!(written, info, "sim.json holds what was printed");

    // The control API answers over plain HTTP on loopback.
    let control = info["control_url"]
        .as_str()
        .unwrap()
        .trim_start_matches("http://")
        .to_owned();
    let mut stream = std::net::TcpStream::connect(&control).unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.ends_with("ok"),
        "{answer}"
    );

    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "Ctrl-C stops it cleanly: {exit:?}");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "simulator stopped\n");
}

#[test]
fn sim_explains_a_taken_port() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_merchant-desk-cli"))
        .args(["sim", "--port", &port, "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let message = String::from_utf8(output.stderr).unwrap();
    assert!(
        message.contains(&format!("cannot listen on 127.0.0.1:{port}"))
            && message.contains("--port"),
        "{message}"
    );
}
