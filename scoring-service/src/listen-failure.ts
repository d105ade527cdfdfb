/**
 * The start-up message when the HTTP socket cannot be opened: what went wrong and which variable to
 * set (PORT, HOST), shared by the scoring service and the edge module, which read the same variables.
 */
export function listenFailure(err: unknown, host: string, port: number): string {
  const where = `${host}:${port}`;
  switch ((err as NodeJS.ErrnoException).code) {
    case 'EADDRINUSE':
      return `cannot listen on ${where}: port ${port} is already in use (another instance of this service?); set PORT to a free port, e.g. PORT=5002, or PORT=0 for any free one`;
    case 'EACCES':
      return `cannot listen on ${where}: this user may not open port ${port}; set PORT to 1024 or above`;
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      return `cannot listen on ${where}: ${host} is not an address of this machine; set HOST (127.0.0.1 for this machine only, 0.0.0.0 for every interface)`;
    default:
      return `cannot listen on ${where} (PORT, HOST): ${(err as Error).message}`;
  }
}
