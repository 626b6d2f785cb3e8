//! `npipe call`: CallNamedPipe, and the reply printed as one line.

use std::io::{Read, Write};
use std::path::Path;

use npipe::Error;

use crate::cmd::Outcome;
use crate::failure::{stdout_error, Failure, Op};
use crate::flags::high::{CallData, CallPlan};

pub fn run(plan: CallPlan, namespace: &Path) -> Result<Outcome, Failure> {
    let name = plan.name.as_str();
    let input = match plan.data {
        CallData::Arg(bytes) => bytes,
        CallData::Stdin => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .map_err(|e| Failure::io("cannot read standard input", e))?;
            bytes
        }
    };
    let mut reply = vec![0u8; plan.reply_size];
    let read = plan
        .options
        .call(name, &input, &mut reply, plan.timeout)
        .map_err(|e| {
            Failure::npipe(
                format!("cannot call {name}"),
                e,
                Op::Call,
                name,
                Some(namespace),
            )
        })?;
    reply.truncate(read.len());
    reply.push(b'\n');
    std::io::stdout().write_all(&reply).map_err(stdout_error)?;
    if !read.is_complete() {
        // CallNamedPipe's answer: the reply was cut to the buffer.
        return Err(Failure::npipe(
            format!("the reply from {name} was cut"),
            Error::MoreData { read: read.len() },
            Op::Call,
            name,
            None,
        ));
    }
    Ok(Outcome::Success)
}
