//! TLS from the configured PEM files: the gateway serves it to the public; the services also
//! require a client certificate signed by the components' authority (mutual TLS).

use std::path::Path;

use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

use crate::config::Tls;

fn read(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{what} ({}): {e}", path.display()))
}

impl Tls {
    fn identity(&self) -> Result<Option<Identity>, String> {
        let (Some(cert), Some(key)) = (&self.tls_cert_file, &self.tls_key_file) else {
            return Ok(None);
        };
        Ok(Some(Identity::from_pem(
            read(cert, "PORTAL_TLS_CERT_FILE")?,
            read(key, "PORTAL_TLS_KEY_FILE")?,
        )))
    }

    fn authority(&self) -> Result<Option<Certificate>, String> {
        self.tls_ca_file
            .as_deref()
            .map(|path| read(path, "PORTAL_TLS_CA_FILE").map(Certificate::from_pem))
            .transpose()
    }

    /// How a component serves: TLS when it has a certificate; for every component but the
    /// `public` one (the gateway), callers must then present a certificate the authority
    /// signed.
    pub fn server(&self, public: bool) -> Result<Option<ServerTlsConfig>, String> {
        let Some(identity) = self.identity()? else {
            return Ok(None);
        };
        let mut config = ServerTlsConfig::new().identity(identity);
        if !public {
            let authority = self.authority()?.ok_or(
                "PORTAL_TLS_CA_FILE must be set with PORTAL_TLS_CERT_FILE: services require client certificates",
            )?;
            config = config.client_ca_root(authority);
        }
        Ok(Some(config))
    }

    /// How a component calls the others: TLS checked against the authority, presenting its
    /// own certificate; plain when no authority is configured.
    pub fn client(&self) -> Result<Option<ClientTlsConfig>, String> {
        let Some(authority) = self.authority()? else {
            return Ok(None);
        };
        let mut config = ClientTlsConfig::new().ca_certificate(authority);
        if let Some(identity) = self.identity()? {
            config = config.identity(identity);
        }
        Ok(Some(config))
    }
}
